import DroverCore
import DroverProto
import Foundation
import Testing

@Suite struct DataChunksTests {
    func payload(bytes count: Int) -> Payload {
        var payload = try! [UInt8]((0..<count).map { UInt8(truncatingIfNeeded: $0 * 7) }).encodePayload()
        payload.typeName = "[UInt8]"
        return payload
    }

    @Test func valuesSplitPackAndAssembleByteForByte() throws {
        let values: [(TaskKey, Payload)] = [
            ("small-1", payload(bytes: 10)), ("large", payload(bytes: 3 * DataChunks.chunkSize + 5)),
            ("small-2", payload(bytes: 0)),
        ]
        var packer = DataChunks.Packer()
        var messages: [Drover_V1_DataChunks] = []
        for (key, value) in values {
            for chunk in DataChunks.split(value, key: key) { packer.add(chunk).map { messages.append($0) } }
        }
        packer.add(DataChunks.missing("gone", reason: "not here")).map { messages.append($0) }
        packer.flush().map { messages.append($0) }
        // The large value needs four messages of its own; the small ones share.
        #expect(messages.count == 5)
        var assembler = DataChunks.Assembler()
        for message in messages {
            for chunk in message.chunks { try assembler.add(chunk) }
        }
        for (key, value) in values {
            #expect(assembler.values[key]?.data == value.data)
            #expect(assembler.values[key]?.typeName == "[UInt8]")
        }
        #expect(assembler.missing == ["gone": "not here"])
    }

    @Test func aSharedSegmentChunkIsTakenOnlyWhenAskedFor() throws {
        let value = payload(bytes: 3 << 20)
        let chunk = DataChunks.shared(value, key: "big", socket: "drover-segments-1-abc", segment: 42)
        #expect(chunk.last && chunk.data.isEmpty)
        var asking = DataChunks.Assembler(acceptsShared: true)
        try asking.add(chunk)
        #expect(asking.values.isEmpty)
        #expect(
            asking.shared["big"]
                == SharedValue(
                    key: "big", socket: "drover-segments-1-abc", segment: 42, encoding: value.encoding,
                    typeName: "[UInt8]", totalBytes: Int64(value.data.count)))
        // PutData and a fetch that did not offer its host identity refuse one.
        var other = DataChunks.Assembler()
        #expect(throws: ProtoConversionError.self) { try other.add(chunk) }
        // Not in the middle of another value's chunks.
        var midValue = DataChunks.Assembler(acceptsShared: true)
        try midValue.add(DataChunks.split(value, key: "big")[0])
        #expect(throws: ProtoConversionError.self) { try midValue.add(chunk) }
    }

    @Test func aChunkOfAnotherKeyMidValueIsMalformed() throws {
        var assembler = DataChunks.Assembler()
        let chunks = DataChunks.split(payload(bytes: DataChunks.chunkSize + 1), key: "a")
        try assembler.add(chunks[0])
        var intruder = DataChunks.split(payload(bytes: 4), key: "b")[0]
        intruder.last = false
        #expect(throws: ProtoConversionError.self) { try assembler.add(intruder) }
    }
}
