import Foundation

/// A list of payloads as one payload: the default encoding of arrays whose elements have no
/// packed or JSON form (arrays of arrays, of protobuf messages, …).
///
/// The bytes are a serialized `drover.v1.ArgumentList` whose items are all `value`s, so any
/// language with the `.proto` reads them. Written by hand here because `DroverCore` does not
/// depend on SwiftProtobuf; `DroverProtoTests` checks both agree.
public enum PayloadList {
    /// Encodes `items` as one payload of type `typeName`.
    public static func encode(_ items: [Payload], typeName: String) -> Payload {
        var writer = ProtoWriter()
        for item in items {
            var payload = ProtoWriter()
            if item.encoding.rawValue != 0 { payload.varintField(1, UInt64(item.encoding.rawValue)) }
            if !item.data.isEmpty { payload.bytesField(2, item.data) }
            if !item.typeName.isEmpty { payload.bytesField(3, Data(item.typeName.utf8)) }
            var argument = ProtoWriter()
            argument.bytesField(1, payload.bytes)
            writer.bytesField(1, argument.bytes)
        }
        return Payload(encoding: .list, data: writer.bytes, typeName: typeName)
    }

    /// Decodes the items of a list payload.
    ///
    /// - Throws: ``PayloadError`` when the payload is not a well-formed list of values.
    public static func decode(_ payload: Payload, typeName: String) throws -> [Payload] {
        guard payload.encoding == .list else {
            throw PayloadError.malformed(typeName, "expected a list payload, got \(payload.encoding)")
        }
        do {
            var items: [Payload] = []
            var list = ProtoReader(payload.data)
            while let (field, value) = try list.next() {
                guard field == 1, case .bytes(let argumentBytes) = value else { continue }
                var argument = ProtoReader(argumentBytes)
                var item: Payload?
                while let (argumentField, argumentValue) = try argument.next() {
                    guard argumentField == 1, case .bytes(let payloadBytes) = argumentValue else {
                        throw ProtoReader.Failure.unexpected("a list item that is not a value")
                    }
                    item = try decodePayload(payloadBytes)
                }
                guard let item else { throw ProtoReader.Failure.unexpected("an empty list item") }
                items.append(item)
            }
            return items
        } catch let failure as ProtoReader.Failure {
            throw PayloadError.malformed(typeName, "bad list bytes: \(failure)")
        }
    }

    private static func decodePayload(_ bytes: Data) throws -> Payload {
        var reader = ProtoReader(bytes)
        var item = Payload(encoding: Payload.Encoding(rawValue: 0), data: Data(), typeName: "")
        while let (field, value) = try reader.next() {
            switch (field, value) {
            case (1, .varint(let number)): item.encoding = Payload.Encoding(rawValue: Int(truncatingIfNeeded: number))
            case (2, .bytes(let data)): item.data = data
            case (3, .bytes(let name)): item.typeName = String(decoding: name, as: UTF8.self)
            default: continue
            }
        }
        return item
    }
}

extension Payload.Encoding {
    /// A serialized `drover.v1.ArgumentList` of values (see ``PayloadList``).
    public static let list = Payload.Encoding(rawValue: 8)
}

/// Just enough of the protobuf wire format for ``PayloadList``.
struct ProtoWriter {
    var bytes = Data()

    mutating func varint(_ value: UInt64) {
        var remaining = value
        while remaining >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: remaining) | 0x80)
            remaining >>= 7
        }
        bytes.append(UInt8(remaining))
    }

    mutating func varintField(_ field: UInt64, _ value: UInt64) {
        varint(field << 3)
        varint(value)
    }

    mutating func bytesField(_ field: UInt64, _ value: Data) {
        varint(field << 3 | 2)
        varint(UInt64(value.count))
        bytes.append(value)
    }
}

struct ProtoReader {
    enum Value {
        case varint(UInt64)
        case bytes(Data)
        case fixed
    }

    enum Failure: Error, CustomStringConvertible {
        case truncated
        case unexpected(String)

        var description: String {
            switch self {
            case .truncated: "truncated"
            case .unexpected(let what): "unexpected \(what)"
            }
        }
    }

    private let data: Data
    private var offset: Int

    init(_ data: Data) {
        self.data = data
        self.offset = data.startIndex
    }

    mutating func next() throws(Failure) -> (UInt64, Value)? {
        guard offset < data.endIndex else { return nil }
        let key = try varint()
        switch key & 7 {
        case 0: return (key >> 3, .varint(try varint()))
        case 1: try skip(8)
        case 2:
            // A length past Int.max cannot be in the data (and `Int(_:)` would trap on it).
            guard let length = Int(exactly: try varint()), data.endIndex - offset >= length else { throw .truncated }
            let value = data[offset..<(offset + length)]
            offset += length
            return (key >> 3, .bytes(Data(value)))
        case 5: try skip(4)
        default: throw .unexpected("wire type \(key & 7)")
        }
        return (key >> 3, .fixed)
    }

    private mutating func skip(_ count: Int) throws(Failure) {
        guard data.endIndex - offset >= count else { throw .truncated }
        offset += count
    }

    private mutating func varint() throws(Failure) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while offset < data.endIndex {
            let byte = data[offset]
            offset += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw .unexpected("varint longer than 64 bits") }
        }
        throw .truncated
    }
}
