import DroverCore
import Foundation
import Testing

@Suite struct PayloadListTests {
    /// Found by the decode fuzz target: a length varint above `Int.max` trapped in `Int(_:)`, so
    /// an argument of a list type could kill the worker decoding it.
    @Test func aLengthBeyondIntMaxIsMalformedNotATrap() {
        // Field 1, length-delimited, length 2^64 - 1.
        let bytes: [UInt8] = [0x0A] + [UInt8](repeating: 0xFF, count: 9) + [0x01]
        let payload = Payload(encoding: .list, data: Data(bytes), typeName: "[[Int]]")
        #expect(throws: PayloadError.self) { try PayloadList.decode(payload, typeName: "[[Int]]") }
        #expect(throws: PayloadError.self) { try [[Int]].decode(payload: payload) }
    }

    @Test func aListStillRoundTrips() throws {
        let items = [Payload(encoding: .int64LE, data: Data(count: 8), typeName: "[Int]")]
        let payload = PayloadList.encode(items, typeName: "[[Int]]")
        #expect(try PayloadList.decode(payload, typeName: "[[Int]]") == items)
    }
}
