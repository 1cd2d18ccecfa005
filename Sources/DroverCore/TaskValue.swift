import Foundation

/// A value that can be an argument or a result of a task: it knows how to become a ``Payload``
/// and back.
///
/// `Int`, `Int64`, `Int32`, `Double`, `Float`, `Bool`, `String`, `Data`, optionals and arrays of
/// these conform already. Arrays of `Double`, `Float`, `Int`, `Int64` and `UInt8` encode as packed
/// little-endian bytes. Any other `Codable` type conforms with one line and travels as JSON:
///
/// ```swift
/// struct Point: Codable, TaskValue { var x, y: Double }
/// ```
///
/// Protobuf messages conform through `ProtobufTaskValue` in `DroverProto`. Arrays of types
/// with no packed or JSON form (arrays of arrays, of messages) travel as a ``PayloadList``.
public protocol TaskValue: TaskArgument where Value == Self {
    /// The name payloads of this type carry, checked when decoding.
    static var taskTypeName: String { get }

    /// Encodes this value.
    func encodePayload() throws -> Payload

    /// Decodes a value of this type.
    ///
    /// - Throws: ``PayloadError`` when the payload holds another type or is malformed.
    static func decode(payload: Payload) throws -> Self

    /// Decodes a resolved argument: an encoded payload, a value in memory, or a list.
    static func decode(argument: ArgumentValue) throws -> Self

    /// Encodes an array of values of this type; arrays of `Self` use it.
    static func encodeArray(_ values: [Self]) throws -> Payload

    /// Decodes an array of values of this type; arrays of `Self` use it.
    static func decodeArray(payload: Payload) throws -> [Self]
}

extension TaskValue {
    public static var taskTypeName: String { String(describing: Self.self) }

    public func makeArgument(in context: inout ArgumentContext) throws -> ArgumentSpec {
        .value(try encodePayload())
    }

    public static func decode(argument: ArgumentValue) throws -> Self {
        switch argument {
        case .payload(let payload):
            return try decode(payload: payload)
        case .object(let value):
            return try decode(object: value)
        case .list:
            throw PayloadError.typeMismatch(expected: taskTypeName, actual: argument.typeDescription)
        }
    }

    public static func encodeArray(_ values: [Self]) throws -> Payload {
        PayloadList.encode(try values.map { try $0.encodePayload() }, typeName: "[\(taskTypeName)]")
    }

    public static func decodeArray(payload: Payload) throws -> [Self] {
        try checkType(of: payload, expected: "[\(taskTypeName)]")
        return try PayloadList.decode(payload, typeName: "[\(taskTypeName)]").map { try decode(payload: $0) }
    }

    /// A value held in memory (the in-process schedulers pass results unencoded): this type, or
    /// another with the same payloads (`[Double]` and `PackedArray<Double>`), through them.
    public static func decode(object value: any TaskValue) throws -> Self {
        if let typed = value as? Self { return typed }
        guard type(of: value).taskTypeName == taskTypeName else {
            throw PayloadError.typeMismatch(expected: taskTypeName, actual: type(of: value).taskTypeName)
        }
        return try decode(payload: value.encodePayload())
    }

    /// Throws unless `payload` was produced for this type (or does not say).
    public static func checkType(of payload: Payload, expected: String = taskTypeName) throws {
        if !payload.typeName.isEmpty && payload.typeName != expected {
            throw PayloadError.typeMismatch(expected: expected, actual: payload.typeName)
        }
    }
}

// MARK: - JSON for Codable values

extension TaskValue where Self: Codable {
    public func encodePayload() throws -> Payload {
        Payload(encoding: .json, data: try JSONCoding.encode(self), typeName: Self.taskTypeName)
    }

    public static func decode(payload: Payload) throws -> Self {
        try checkType(of: payload)
        return try JSONCoding.decode(Self.self, from: payload, typeName: taskTypeName)
    }

    public static func encodeArray(_ values: [Self]) throws -> Payload {
        Payload(encoding: .json, data: try JSONCoding.encode(values), typeName: "[\(taskTypeName)]")
    }

    public static func decodeArray(payload: Payload) throws -> [Self] {
        try checkType(of: payload, expected: "[\(taskTypeName)]")
        return try JSONCoding.decode([Self].self, from: payload, typeName: "[\(taskTypeName)]")
    }
}

enum JSONCoding {
    static func encode<T: Encodable>(_ value: T) throws -> Data {
        do {
            return try JSONEncoder().encode(value)
        } catch {
            throw PayloadError(
                code: .unsupported,
                message: "cannot encode \(T.self) as JSON: \(error)",
                expectedType: "\(T.self)"
            )
        }
    }

    static func decode<T: Decodable>(_ type: T.Type, from payload: Payload, typeName: String) throws -> T {
        guard payload.encoding == .json else {
            throw PayloadError.malformed(typeName, "expected JSON, got \(payload.encoding)")
        }
        do {
            return try JSONDecoder().decode(T.self, from: payload.data)
        } catch {
            throw PayloadError.malformed(typeName, "invalid JSON (\(error))")
        }
    }
}

// MARK: - Arrays

extension Array: TaskValue where Element: TaskValue {
    public static var taskTypeName: String { "[\(Element.taskTypeName)]" }

    public func encodePayload() throws -> Payload { try Element.encodeArray(self) }

    public static func decode(payload: Payload) throws -> [Element] { try Element.decodeArray(payload: payload) }

    public static func decode(argument: ArgumentValue) throws -> [Element] {
        switch argument {
        case .payload(let payload):
            return try decode(payload: payload)
        case .object(let value):
            return try decode(object: value)
        case .list(let items):
            return try items.map { try Element.decode(argument: $0) }
        }
    }
}

extension Optional: TaskArgument where Wrapped: TaskValue & Codable {
    public typealias Value = Self
}

extension Optional: TaskValue where Wrapped: TaskValue & Codable {
    public static var taskTypeName: String { "\(Wrapped.taskTypeName)?" }
}

extension Bool: TaskValue {
    public static var taskTypeName: String { "Bool" }
}
extension String: TaskValue {
    public static var taskTypeName: String { "String" }

    public func encodePayload() throws -> Payload {
        Payload(encoding: .raw, data: Data(utf8), typeName: Self.taskTypeName)
    }

    public static func decode(payload: Payload) throws -> String {
        try checkType(of: payload)
        switch payload.encoding {
        case .raw:
            guard let string = String(data: payload.data, encoding: .utf8) else {
                throw PayloadError.malformed(taskTypeName, "bytes are not UTF-8")
            }
            return string
        default:
            return try JSONCoding.decode(String.self, from: payload, typeName: taskTypeName)
        }
    }
}
