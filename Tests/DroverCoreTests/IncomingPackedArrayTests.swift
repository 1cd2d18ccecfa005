import DroverCore
import Foundation
import Glibc
import Testing

/// `IncomingPackedArray`: a packed array received straight into the array its consumer decodes.
@Suite struct IncomingPackedArrayTests {
    /// Receives `values` as the bulk stream does: allocated from the header, then the bytes
    /// written in place.
    static func received<Element: PackedNumber>(
        _ values: [Element], typeName: String = [Element].taskTypeName
    ) throws -> IncomingPackedArray {
        let byteCount = values.count * MemoryLayout<Element>.stride
        let incoming = try #require(
            IncomingPackedArray(encoding: Element.packedEncoding, typeName: typeName, byteCount: byteCount))
        #expect(incoming.bytes.count == byteCount)
        values.withUnsafeBytes { incoming.bytes.copyMemory(from: $0) }
        return incoming
    }

    static func address<Element>(of array: [Element]) -> UnsafeRawPointer? {
        array.withUnsafeBytes { $0.baseAddress }
    }

    @Test func aDoubleArrayDecodesAsTheArrayItWasReceivedInto() throws {
        let values = (0..<100_000).map { Double($0) * 0.25 - 3 }
        let incoming = try Self.received(values)
        let decoded = try [Double].decode(payload: incoming.payload)
        #expect(decoded == values)
        #expect(Self.address(of: decoded) == UnsafeRawPointer(incoming.bytes.baseAddress))
        #expect(incoming.payload.data == values.withUnsafeBytes { Data($0) })
    }

    @Test func everyPackedElementTypeDecodesWithoutACopy() throws {
        let bytes = (0..<4099).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let floats = (0..<1000).map { Float($0) / 3 }
        let ints = (0..<1000).map { $0 * -977 }
        let int64s = (0..<1000).map { Int64($0) << 40 }
        let (a, b, c, d) = (
            try Self.received(bytes), try Self.received(floats), try Self.received(ints), try Self.received(int64s)
        )
        let decoded = (
            try [UInt8].decode(payload: a.payload), try [Float].decode(payload: b.payload),
            try [Int].decode(payload: c.payload), try [Int64].decode(payload: d.payload)
        )
        #expect(decoded.0 == bytes && decoded.1 == floats && decoded.2 == ints && decoded.3 == int64s)
        #expect(Self.address(of: decoded.0) == UnsafeRawPointer(a.bytes.baseAddress))
        #expect(Self.address(of: decoded.1) == UnsafeRawPointer(b.bytes.baseAddress))
        #expect(Self.address(of: decoded.2) == UnsafeRawPointer(c.bytes.baseAddress))
        #expect(Self.address(of: decoded.3) == UnsafeRawPointer(d.bytes.baseAddress))
    }

    /// A packed array read in place reads the same bytes.
    @Test func aPackedArrayReadsTheSameBytes() throws {
        let values = (0..<5000).map { Double($0).squareRoot() }
        let incoming = try Self.received(values)
        let packed = try PackedArray<Double>.decode(payload: incoming.payload)
        #expect(Array(packed) == values)
        let read = packed.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }
        #expect(read == UnsafeRawPointer(incoming.bytes.baseAddress))
    }

    /// Another type's decoder errs as it does for any payload: the array is never handed out.
    @Test func aMismatchedTypeStillErrs() throws {
        let incoming = try Self.received((0..<1000).map(Double.init))
        let mismatch = #expect(throws: PayloadError.self) { try [Int].decode(payload: incoming.payload) }
        #expect(mismatch?.code == .typeMismatch)
        #expect(mismatch?.message.contains("[Double]") == true, "\(String(describing: mismatch))")
        // A payload that does not name its type: the encoding still decides.
        let untyped = try Self.received((0..<1000).map(Double.init), typeName: "")
        let malformed = #expect(throws: PayloadError.self) { try [Float].decode(payload: untyped.payload) }
        #expect(malformed?.message.contains("expected float32-le bytes, got float64-le") == true)
        #expect(try [Double].decode(payload: untyped.payload) == (0..<1000).map(Double.init))
    }

    /// `[Int]` and `[Int64]` share an encoding: the one named is the array received into, and the
    /// other still decodes (with a copy) when the payload names no type.
    @Test func intAndInt64ShareAnEncoding() throws {
        let values = (0..<1000).map { Int64($0) * 3 }
        let named = try Self.received(values)
        let asNamed = try [Int64].decode(payload: named.payload)
        #expect(Self.address(of: asNamed) == UnsafeRawPointer(named.bytes.baseAddress))
        let untyped = try Self.received(values, typeName: "")
        let asInt64 = try [Int64].decode(payload: untyped.payload)
        #expect(asInt64 == values)
        #expect(Self.address(of: asInt64) != UnsafeRawPointer(untyped.bytes.baseAddress))
        #expect(try [Int].decode(payload: untyped.payload) == values.map(Int.init))
    }

    @Test func onlyWholePackedArraysAreReceivedIntoArrays() {
        #expect(IncomingPackedArray(encoding: .float64LE, typeName: "[Double]", byteCount: 12) == nil)
        #expect(IncomingPackedArray(encoding: .float64LE, typeName: "[Double]", byteCount: 0) == nil)
        #expect(IncomingPackedArray(encoding: .raw, typeName: "Data", byteCount: 1 << 20) == nil)
        #expect(IncomingPackedArray(encoding: .json, typeName: "[Double]", byteCount: 1 << 20) == nil)
    }

    /// Where the bytes live is not part of the value.
    @Test func equalityAndHashingAreTheBytes() throws {
        let values = (0..<4096).map { Double($0) }
        let incoming = try Self.received(values)
        let copied = Payload(encoding: .float64LE, data: values.withUnsafeBytes { Data($0) }, typeName: "[Double]")
        #expect(incoming.payload == copied)
        #expect(incoming.payload.hashValue == copied.hashValue)
        #expect(Set([incoming.payload, copied]).count == 1)
        var changed = copied
        changed.data[0] ^= 1
        #expect(incoming.payload != changed)
        #expect(incoming.payload != Payload(encoding: .float64LE, data: copied.data, typeName: ""))
    }

    /// Arrays are copy-on-write: a consumer that changes its argument changes a copy, and the
    /// payload (which another consumer may decode next) keeps its bytes.
    @Test func changingTheDecodedArrayLeavesThePayloadAlone() throws {
        let values = (0..<1000).map { Double($0) }
        let incoming = try Self.received(values)
        var decoded = try [Double].decode(payload: incoming.payload)
        decoded[0] = -1
        decoded.append(7)
        #expect(try [Double].decode(payload: incoming.payload) == values)
        #expect(incoming.payload.data == values.withUnsafeBytes { Data($0) })
    }

    /// A payload whose bytes were replaced decodes those bytes, not the array it came with.
    @Test func replacedBytesAreDecodedNotTheArray() throws {
        let incoming = try Self.received((0..<1000).map { Double($0) })
        var payload = incoming.payload
        let other = (0..<10).map { Double($0) * 2 }
        payload.data = other.withUnsafeBytes { Data($0) }
        #expect(try [Double].decode(payload: payload) == other)
        payload.data = incoming.payload.data.prefix(80)
        #expect(try [Double].decode(payload: payload) == (0..<10).map { Double($0) })
    }

    /// The process's resident bytes (`/proc/self/statm`).
    static func residentBytes() throws -> Int {
        let statm = try String(contentsOfFile: "/proc/self/statm", encoding: .utf8)
        let pages = try #require(Int(statm.split(separator: " ")[1]))
        return pages * Int(getpagesize())
    }

    /// The storage is freed once the payload and the arrays decoded from it are gone: 16 values of
    /// 64 MiB, each written whole, one after another, leave the process's resident memory within a
    /// few values of where it was (kept, they would add 1 GiB; the margin is for the tests running
    /// beside this one in the same process).
    @Test func theStorageIsFreedWithItsLastHolder() throws {
        let byteCount = 64 << 20
        let before = try Self.residentBytes()
        for round in 0..<16 {
            let incoming = try #require(
                IncomingPackedArray(encoding: .uint8, typeName: "[UInt8]", byteCount: byteCount))
            incoming.bytes.initializeMemory(as: UInt8.self, repeating: UInt8(round))
            let decoded = try [UInt8].decode(payload: incoming.payload)
            #expect(decoded.count == byteCount && decoded[byteCount - 1] == UInt8(round))
        }
        #expect(try Self.residentBytes() - before < 4 * byteCount)
    }

    /// The array outlives the payload it came in, and the payload the arrays decoded from it.
    @Test func theStorageLivesAsLongAsEitherHolder() throws {
        let values = (0..<(1 << 18)).map { Double($0) }
        var decoded: [Double]
        var data: Data
        do {
            let incoming = try Self.received(values)
            decoded = try [Double].decode(payload: incoming.payload)
            data = incoming.payload.data
        }
        #expect(decoded == values)
        decoded = []
        #expect(data == values.withUnsafeBytes { Data($0) })
        data = Data()
        #expect(data.isEmpty && decoded.isEmpty)
    }
}
