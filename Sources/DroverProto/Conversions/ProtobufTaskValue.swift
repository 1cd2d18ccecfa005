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

    public static func encodeArray(_ values: [Self]) throws -> Payload {
        // A list of messages is a list of payloads, each carried in a drover.v1.ArgumentList.
        var list = Drover_V1_ArgumentList()
        list.items = try values.map { value in
            var item = Drover_V1_Argument()
            item.value = try value.encodePayload().proto
            return item
        }
        return Payload(encoding: .protobuf, data: try list.serializedBytes(), typeName: "[\(taskTypeName)]")
    }

    public static func decodeArray(payload: Payload) throws -> [Self] {
        try checkType(of: payload, expected: "[\(taskTypeName)]")
        let list: Drover_V1_ArgumentList
        do {
            list = try Drover_V1_ArgumentList(serializedBytes: payload.data)
        } catch {
            throw PayloadError(
                code: .malformed,
                message: "cannot decode [\(taskTypeName)]: \(error)",
                expectedType: "[\(taskTypeName)]"
            )
        }
        return try list.items.map { try decode(payload: Payload(proto: $0.value)) }
    }
}

extension Drover_V1_TaskSpec: ProtobufTaskValue {}
