import DroverCore
import DroverTestKit
import Foundation
import Testing

struct Point: Codable, Hashable, TaskValue {
    var x: Double
    var y: Double
    var label: String
}

/// Any finite double, from random bits (NaN is tested on its own: it never equals itself).
func finiteDouble(_ random: inout SeededRandom) -> Double {
    let value = Double(bitPattern: random.next())
    return value.isFinite ? value : 0
}

@Suite struct TaskValueTests {
    /// Encodes and decodes through a payload, and also through the in-memory argument form.
    func roundTrip<T: TaskValue & Equatable>(_ value: T, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let payload = try value.encodePayload()
        #expect(payload.typeName == T.taskTypeName, sourceLocation: sourceLocation)
        #expect(try T.decode(payload: payload) == value, sourceLocation: sourceLocation)
        #expect(try T.decode(argument: .payload(payload)) == value, sourceLocation: sourceLocation)
        #expect(try T.decode(argument: .object(value)) == value, sourceLocation: sourceLocation)
    }

    @Test(arguments: 0..<20)
    func scalarsRoundTrip(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        try roundTrip(Int.random(in: .min ... .max, using: &random))
        try roundTrip(Int64.random(in: .min ... .max, using: &random))
        try roundTrip(Int32.random(in: .min ... .max, using: &random))
        try roundTrip(UInt8.random(in: .min ... .max, using: &random))
        try roundTrip(finiteDouble(&random))
        try roundTrip(Float.random(in: -1e30...1e30, using: &random))
        try roundTrip(Bool.random(using: &random))
        try roundTrip(random.string(count: Int.random(in: 0...64, using: &random)))
        try roundTrip(
            Data((0..<Int.random(in: 0...300, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }))
        try roundTrip(
            Point(
                x: .random(in: -1...1, using: &random), y: .random(in: -1...1, using: &random),
                label: random.string(count: 5))
        )
    }

    @Test(arguments: 0..<20)
    func arraysRoundTrip(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        let count = Int.random(in: 0...2000, using: &random)
        try roundTrip((0..<count).map { _ in finiteDouble(&random) })
        try roundTrip((0..<count).map { _ in Float.random(in: -1e6...1e6, using: &random) })
        try roundTrip((0..<count).map { _ in Int64.random(in: .min ... .max, using: &random) })
        try roundTrip((0..<count).map { _ in Int.random(in: .min ... .max, using: &random) })
        try roundTrip((0..<count).map { _ in UInt8.random(in: 0...255, using: &random) })
        try roundTrip((0..<(count % 50)).map { _ in random.string(count: 8) })
        try roundTrip((0..<(count % 20)).map { _ in (0..<3).map { _ in Int.random(in: 0...9, using: &random) } })
        try roundTrip((0..<(count % 20)).map { _ in Point(x: 1, y: 2, label: random.string(count: 3)) })
        try roundTrip(count % 2 == 0 ? Optional(count) : nil)
    }

    @Test func specialDoublesKeepTheirBits() throws {
        let values: [Double] = [
            .nan, -.nan, .infinity, -.infinity, -0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude,
        ]
        let decoded = try [Double].decode(payload: try values.encodePayload())
        #expect(decoded.map(\.bitPattern) == values.map(\.bitPattern))
    }

    @Test func numericArraysArePackedLittleEndian() throws {
        let payload = try [1.0, -2.5].encodePayload()
        #expect(payload.encoding == .float64LE)
        #expect(payload.data == Data([0, 0, 0, 0, 0, 0, 0xF0, 0x3F, 0, 0, 0, 0, 0, 0, 0x04, 0xC0]))
        #expect(try [Int64(1), -1].encodePayload().encoding == .int64LE)
        #expect(try [Float(1)].encodePayload().data == Data([0, 0, 0x80, 0x3F]))
        #expect(
            try [UInt8]([7, 8]).encodePayload() == Payload(encoding: .uint8, data: Data([7, 8]), typeName: "[UInt8]"))
    }

    @Test func codableValuesTravelAsJSON() throws {
        let payload = try Point(x: 1, y: 2, label: "p").encodePayload()
        #expect(payload.encoding == .json)
        #expect(payload.typeName == "Point")
        let object = try JSONSerialization.jsonObject(with: payload.data) as? [String: Any]
        #expect(object?["label"] as? String == "p")
    }

    @Test func untypedJSONFromOtherLanguagesDecodes() throws {
        // A Python client sends JSON without a Swift type name.
        let payload = Payload(encoding: .json, data: Data("[1, 2, 3]".utf8), typeName: "")
        #expect(try [Int].decode(payload: payload) == [1, 2, 3])
        #expect(try Int.decode(payload: Payload(encoding: .json, data: Data("42".utf8), typeName: "")) == 42)
    }

    @Test func typeMismatchNamesBothTypes() throws {
        let payload = try "text".encodePayload()
        let error = try #require(throws: PayloadError.self) { try Int.decode(payload: payload) }
        #expect(error.code == .typeMismatch)
        #expect(error.expectedType == "Int")
        #expect(error.actualType == "String")
        #expect(error.message.contains("expected a value of type Int, got String"))
    }

    @Test func inMemoryTypeMismatchIsCaught() throws {
        let error = try #require(throws: PayloadError.self) { try String.decode(argument: .object(3)) }
        #expect(error.code == .typeMismatch)
        #expect(error.actualType == "Int")
    }

    @Test func truncatedPackedBytesAreMalformed() throws {
        let payload = Payload(encoding: .float64LE, data: Data([1, 2, 3]), typeName: "[Double]")
        let error = try #require(throws: PayloadError.self) { try [Double].decode(payload: payload) }
        #expect(error.code == .malformed)
        #expect(error.message.contains("3 bytes is not a whole number of 8-byte values"))
    }

    @Test func invalidJSONIsMalformed() throws {
        let payload = Payload(encoding: .json, data: Data("{".utf8), typeName: "Point")
        let error = try #require(throws: PayloadError.self) { try Point.decode(payload: payload) }
        #expect(error.code == .malformed)
    }

    @Test func listsOfResolvedArgumentsDecodeAsArrays() throws {
        let argument = ArgumentValue.list([.object(1), .payload(try 2.encodePayload()), .object(3)])
        #expect(try [Int].decode(argument: argument) == [1, 2, 3])
        let error = try #require(throws: PayloadError.self) {
            try [Int].decode(argument: .list([.object(1), .object("two")]))
        }
        #expect(error.code == .typeMismatch)
    }
}
