public import Foundation

/// One encoded value, an argument or a result, as it crosses a process boundary.
///
/// The encoding is language-neutral (the `.proto` contract): bulk numeric arrays are packed
/// little-endian bytes and never pass through JSON.
///
/// Equality and hashing are the encoding's, the bytes' and the type name's: where the bytes live
/// (a peer's shared memory, a Swift array's storage, see ``IncomingPackedArray``) is not part of
/// the value.
public struct Payload: Sendable, Hashable {
    /// How ``data`` is to be read.
    public struct Encoding: Hashable, Sendable, CustomStringConvertible {
        /// Wire number, as in `drover.v1.Encoding`.
        public let rawValue: Int

        public init(rawValue: Int) {
            self.rawValue = rawValue
        }

        /// Opaque bytes.
        public static let raw = Encoding(rawValue: 1)
        /// Packed little-endian `Double`s.
        public static let float64LE = Encoding(rawValue: 2)
        /// Packed little-endian `Float`s.
        public static let float32LE = Encoding(rawValue: 3)
        /// Packed little-endian 64-bit integers.
        public static let int64LE = Encoding(rawValue: 4)
        /// Unsigned bytes.
        public static let uint8 = Encoding(rawValue: 5)
        /// A serialized protobuf message.
        public static let protobuf = Encoding(rawValue: 6)
        /// UTF-8 JSON.
        public static let json = Encoding(rawValue: 7)

        public var description: String {
            switch rawValue {
            case 1: "raw"
            case 2: "float64-le"
            case 3: "float32-le"
            case 4: "int64-le"
            case 5: "uint8"
            case 6: "protobuf"
            case 7: "json"
            case 8: "list"
            default: "encoding(\(rawValue))"
            }
        }
    }

    /// How ``data`` is encoded.
    public var encoding: Encoding
    /// The encoded bytes.
    public var data: Data
    /// The producer's name for the type ("Int", "[Double]"); empty when unknown.
    public var typeName: String

    /// The Swift array whose storage ``data`` views, when the bytes were received straight into
    /// one (``IncomingPackedArray``): the decoder of that array type returns it without a copy.
    /// Only a hint: the decoder checks that ``data`` still is that array's bytes.
    var storage: (any Sendable)?

    /// Creates a payload.
    public init(encoding: Encoding, data: Data, typeName: String) {
        self.encoding = encoding
        self.data = data
        self.typeName = typeName
    }

    public static func == (lhs: Payload, rhs: Payload) -> Bool {
        lhs.encoding == rhs.encoding && lhs.typeName == rhs.typeName && lhs.data == rhs.data
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(encoding)
        hasher.combine(data)
        hasher.combine(typeName)
    }
}
