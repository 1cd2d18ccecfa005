import DroverCore
import Foundation
import Testing

/// `PackedArray`: the zero-copy counterpart of a packed numeric array.
@Suite struct PackedArrayTests {
    @Test func aDoubleArraysPayloadDecodesAsAPackedArrayAndBack() throws {
        let values = (0..<1000).map { Double($0) * 0.5 - 7 }
        let packed = try PackedArray<Double>.decode(payload: values.encodePayload())
        #expect(Array(packed) == values)
        #expect(packed.count == values.count)
        #expect(try [Double].decode(payload: packed.encodePayload()) == values)
        #expect(PackedArray(values).array == values)
    }

    @Test func itReadsTheBytesItWasGivenWithoutCopyingThem() throws {
        let bytes = [Int64](0..<4096).withUnsafeBytes { Data($0) }
        let packed = try PackedArray<Int>(bytes: bytes)
        let given = bytes.withUnsafeBytes { $0.baseAddress }
        let read = packed.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }
        #expect(given == read)
        #expect(packed[4095] == 4095)
    }

    @Test func unalignedBytesAreReadCorrectly() throws {
        let values: [Double] = [1.5, -2.25, 1e300, 0]
        var bytes = Data([0xFF])
        values.withUnsafeBytes { bytes.append(contentsOf: $0) }
        let packed = try PackedArray<Double>(bytes: bytes.dropFirst())
        #expect(Array(packed) == values)
        #expect(packed.withUnsafeBufferPointer { Array($0) } == values)
    }

    @Test func aPartialElementIsMalformed() {
        #expect(throws: PayloadError.self) { try PackedArray<Double>(bytes: Data(count: 7)) }
    }

    @Test func anotherTypesPayloadIsATypeMismatch() throws {
        let error = #expect(throws: PayloadError.self) {
            try PackedArray<Double>.decode(payload: [1, 2, 3].encodePayload())
        }
        #expect(error?.code == .typeMismatch)
        #expect(error?.message.contains("[Int]") == true, "\(String(describing: error))")
    }

    /// The in-process schedulers pass results unencoded: either form is accepted for the other.
    @Test func inMemoryArraysAndPackedArraysStandInForEachOther() throws {
        let values: [Double] = [3, 1, 4, 1, 5]
        #expect(try PackedArray<Double>.decode(argument: .object(values)).array == values)
        #expect(try [Double].decode(argument: .object(PackedArray(values))) == values)
        #expect(throws: PayloadError.self) { try [Int].decode(argument: .object(PackedArray(values))) }
    }
}
