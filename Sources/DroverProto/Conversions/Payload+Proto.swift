public import DroverCore
import SwiftProtobuf

extension Payload {
    /// Converts from the wire form.
    public init(proto: Drover_V1_Payload) {
        self.init(encoding: Encoding(rawValue: proto.encoding.rawValue), data: proto.data, typeName: proto.typeName)
    }

    /// The wire form.
    public var proto: Drover_V1_Payload {
        var message = Drover_V1_Payload()
        message.encoding = Drover_V1_Encoding(rawValue: encoding.rawValue) ?? .unspecified
        message.data = data
        message.typeName = typeName
        return message
    }
}

extension ArgumentSpec {
    /// Converts from the wire form.
    ///
    /// - Throws: ``ProtoConversionError`` when the argument has no kind set.
    public init(proto: Drover_V1_Argument) throws {
        switch proto.kind {
        case .value(let payload): self = .value(Payload(proto: payload))
        case .key(let key): self = .key(TaskKey(key))
        case .list(let list): self = .list(try list.items.map { try ArgumentSpec(proto: $0) })
        case nil: throw ProtoConversionError(message: "an argument has none of value, key or list set")
        }
    }

    /// The wire form.
    public var proto: Drover_V1_Argument {
        var message = Drover_V1_Argument()
        switch self {
        case .value(let payload): message.value = payload.proto
        case .key(let key): message.key = key.rawValue
        case .list(let items): message.list = .with { $0.items = items.map(\.proto) }
        }
        return message
    }
}

extension ArgumentValue {
    /// Converts a resolved argument from the wire form.
    ///
    /// - Throws: ``ProtoConversionError`` for an unresolved `key` argument or an empty one.
    public init(proto: Drover_V1_Argument) throws {
        switch proto.kind {
        case .value(let payload): self = .payload(Payload(proto: payload))
        case .list(let list): self = .list(try list.items.map { try ArgumentValue(proto: $0) })
        case .key(let key):
            throw ProtoConversionError(message: "argument refers to key '\(key)', which was not resolved to a value")
        case nil: throw ProtoConversionError(message: "an argument has none of value, key or list set")
        }
    }

    /// The wire form; values still in memory are encoded.
    public func proto() throws -> Drover_V1_Argument {
        var message = Drover_V1_Argument()
        switch self {
        case .payload(let payload): message.value = payload.proto
        case .object(let value): message.value = try value.encodePayload().proto
        case .list(let items):
            message.list.items = try items.map { try $0.proto() }
        }
        return message
    }
}

extension TaskSpec {
    /// Converts from the wire form.
    public init(proto: Drover_V1_TaskSpec) throws {
        self.init(
            key: TaskKey(proto.key),
            function: proto.function,
            arguments: try proto.arguments.map { try ArgumentSpec(proto: $0) }
        )
    }

    /// The wire form.
    public var proto: Drover_V1_TaskSpec {
        .with {
            $0.key = key.rawValue
            $0.function = function
            $0.arguments = arguments.map(\.proto)
        }
    }
}

extension TaskError {
    /// Converts from the wire form.
    public init(proto: Drover_V1_TaskError) {
        self.init(
            kind: Kind(rawValue: proto.kind.rawValue),
            key: TaskKey(proto.key),
            function: proto.function,
            message: proto.message,
            location: proto.location.isEmpty ? nil : proto.location,
            errorType: proto.errorType.isEmpty ? nil : proto.errorType,
            errorValue: proto.hasErrorValue ? Payload(proto: proto.errorValue) : nil
        )
    }

    /// The wire form.
    public var proto: Drover_V1_TaskError {
        .with {
            $0.kind = Drover_V1_TaskError.Kind(rawValue: kind.rawValue) ?? .failed
            $0.key = key.rawValue
            $0.function = function
            $0.message = message
            $0.location = location ?? ""
            $0.errorType = errorType ?? ""
            if let errorValue { $0.errorValue = errorValue.proto }
        }
    }
}

/// A wire message that does not form a valid domain value.
public struct ProtoConversionError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }

    public init(message: String) {
        self.message = message
    }
}
