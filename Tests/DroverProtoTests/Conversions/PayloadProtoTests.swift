import DroverCore
import DroverProto
import Foundation
import SwiftProtobuf
import Testing

@Suite struct ProtoConversionTests {
    /// Serializes to bytes and parses back, as the wire does.
    func overTheWire<M: SwiftProtobuf.Message>(_ message: M) throws -> M {
        try M(serializedBytes: try message.serializedBytes() as [UInt8])
    }

    @Test func payloadsSurviveTheWire() throws {
        for payload in [try [1.5, 2.5].encodePayload(), try "hé".encodePayload(), try 42.encodePayload()] {
            #expect(Payload(proto: try overTheWire(payload.proto)) == payload)
        }
    }

    @Test func taskSpecsSurviveTheWire() throws {
        let spec = TaskSpec(
            key: "sum-1",
            function: "sum",
            arguments: [.list([.key("inc-1"), .value(try 3.encodePayload()), .list([])]), .key("inc-2")]
        )
        #expect(try TaskSpec(proto: try overTheWire(spec.proto)) == spec)
    }

    @Test func taskErrorsSurviveTheWire() throws {
        let error = TaskError(kind: .workerDied, key: "a", function: "f", message: "killed", location: "pid 3")
        #expect(TaskError(proto: try overTheWire(error.proto)) == error)
        let noLocation = TaskError(kind: .unknownFunction, key: "a", function: "f", message: "m")
        #expect(TaskError(proto: noLocation.proto) == noLocation)
    }

    @Test func anEmptyArgumentIsRejected() throws {
        #expect(throws: ProtoConversionError.self) { try ArgumentSpec(proto: Drover_V1_Argument()) }
        var unresolved = Drover_V1_Argument()
        unresolved.key = "x"
        let error = try #require(throws: ProtoConversionError.self) { try ArgumentValue(proto: unresolved) }
        #expect(error.message.contains("'x'"))
    }

    @Test func protobufMessagesAreTaskValues() throws {
        let spec = TaskSpec(key: "k", function: "f", arguments: [.value(try 1.encodePayload())]).proto
        let payload = try spec.encodePayload()
        #expect(payload.encoding == .protobuf)
        #expect(payload.typeName == "drover.v1.TaskSpec")
        #expect(try Drover_V1_TaskSpec.decode(payload: payload) == spec)
        let list = [spec, Drover_V1_TaskSpec.with { $0.key = "other" }]
        #expect(try [Drover_V1_TaskSpec].decode(payload: try list.encodePayload()) == list)
        #expect(throws: PayloadError.self) { try Drover_V1_TaskSpec.decode(payload: try 1.encodePayload()) }
    }

    @Test func resolvedArgumentsEncodeValuesInMemory() throws {
        let value = ArgumentValue.list([.object(1), .payload(try 2.encodePayload())])
        let decoded = try ArgumentValue(proto: try overTheWire(try value.proto()))
        #expect(try [Int].decode(argument: decoded) == [1, 2])
    }

    @Test func payloadListsAreArgumentLists() throws {
        let items = [
            try [1, 2].encodePayload(), try "x".encodePayload(), Payload(encoding: .raw, data: .init(), typeName: ""),
        ]
        let list = PayloadList.encode(items, typeName: "[Any]")
        // What DroverCore writes by hand, SwiftProtobuf reads…
        let parsed = try Drover_V1_ArgumentList(serializedBytes: list.data)
        #expect(parsed.items.map { Payload(proto: $0.value) } == items)
        // …and what SwiftProtobuf writes, DroverCore reads.
        let written = Payload(encoding: .list, data: try parsed.serializedBytes(), typeName: "[Any]")
        #expect(try PayloadList.decode(written, typeName: "[Any]") == items)
    }

    @Test func aListWithAKeyItemIsMalformed() throws {
        var list = Drover_V1_ArgumentList()
        list.items = [.with { $0.key = "k" }]
        let payload = Payload(encoding: .list, data: try list.serializedBytes(), typeName: "[[Int]]")
        let error = try #require(throws: PayloadError.self) { try [[Int]].decode(payload: payload) }
        #expect(error.code == .malformed)
    }
}
