public import DroverCore
public import SwiftProtobuf

/// A protobuf message that tasks can take and return, encoded as itself (not JSON).
///
/// ```swift
/// extension MyMessage: ProtobufTaskValue {}
/// ```
public protocol ProtobufTaskValue: TaskValue, SwiftProtobuf.Message {}

extension ProtobufTaskValue {
    public static var taskTypeName: String { protoMessageName }

    public func encodePayload() throws -> Payload {
        Payload(encoding: .protobuf, data: try serializedBytes(), typeName: Self.taskTypeName)
    }

    public static func decode(payload: Payload) throws -> Self {
        try checkType(of: payload)
        guard payload.encoding == .protobuf else {
            throw PayloadError(
                code: .malformed,
                message: "cannot decode \(taskTypeName): expected protobuf bytes, got \(payload.encoding)",
                expectedType: taskTypeName
            )
        }
        do {
            return try Self(serializedBytes: payload.data)
        } catch {
            throw PayloadError(
                code: .malformed,
                message: "cannot decode \(taskTypeName): \(error)",
                expectedType: taskTypeName
            )
        }
    }
}

extension Drover_V1_TaskSpec: ProtobufTaskValue {}
