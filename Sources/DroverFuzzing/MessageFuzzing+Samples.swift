import DroverCore
import DroverProto
import Foundation
import SwiftProtobuf

// MARK: - Seeded samples

extension MessageFuzzing {
    /// A message-like input chosen by `bytes`: one of the accepted messages with random fields
    /// (nested arguments, payloads of every encoding, lists, chunks), serialized, then mutated a
    /// little (bytes flipped, inserted, cut off). Random bytes alone rarely decode; this is what
    /// the seeded runs feed ``run(_:)``, and what libFuzzer can start from.
    ///
    /// - Parameter bytes: the choices.
    /// - Returns: the bytes to decode.
    public static func sample(from bytes: [UInt8]) -> [UInt8] {
        var input = FuzzInput(bytes)
        let message: any SwiftProtobuf.Message
        switch input.int(in: 0...6) {
        case 0:
            message = Drover_V1_ClientEvents.with {
                $0.events = [.with { $0.submit = .with { $0.tasks = [.with { $0.spec = spec(&input) }] } }]
            }
        case 1:
            message = Drover_V1_WorkerEvents.with {
                $0.events = [
                    .with {
                        $0.finished = .with {
                            $0.key = key(&input)
                            $0.inline = payload(&input)
                        }
                    }
                ]
            }
        case 2:
            message = Drover_V1_DataChunks.with { $0.chunks = (0..<input.int(in: 1...3)).map { _ in chunk(&input) } }
        case 3:
            message = Drover_V1_WorkerCommands.with {
                $0.commands = [.with { $0.compute = .with { $0.spec = spec(&input) } }]
            }
        case 4:
            message = Drover_V1_ExecuteRequest.with { $0.arguments = (0..<2).map { _ in argument(&input, depth: 0) } }
        case 5:
            message = Drover_V1_ExecuteResponse.with { $0.result = payload(&input) }
        default:
            message = Drover_V1_WorkerExitReport.with {
                $0.workerID = key(&input)
                $0.address = key(&input)
            }
        }
        var serialized: [UInt8] = (try? message.serializedBytes()) ?? []
        for _ in 0..<input.int(in: 0...3) { mutate(&serialized, &input) }
        return serialized
    }

    private static func mutate(_ bytes: inout [UInt8], _ input: inout FuzzInput) {
        guard !bytes.isEmpty else { return }
        let at = input.int(in: 0...(bytes.count - 1))
        switch input.int(in: 0...3) {
        case 0: bytes[at] ^= UInt8(1) << UInt8(input.int(in: 0...7))
        case 1: bytes[at] = input.byte()
        case 2: bytes.insert(input.byte(), at: at)
        default: bytes.removeLast(bytes.count - at)
        }
    }

    private static func key(_ input: inout FuzzInput) -> String {
        input.pick(["a", "b", "", "a-1", "ключ", "k\(input.int(in: 0...9))"])
    }

    private static func spec(_ input: inout FuzzInput) -> Drover_V1_TaskSpec {
        .with {
            $0.key = key(&input)
            $0.function = input.pick(["inc", "sum", ""])
            $0.arguments = (0..<input.int(in: 0...3)).map { _ in argument(&input, depth: 0) }
        }
    }

    private static func argument(_ input: inout FuzzInput, depth: Int) -> Drover_V1_Argument {
        switch input.int(in: 0...3) {
        case 0: return .with { $0.key = key(&input) }
        case 1 where depth < 3:
            return .with { $0.list.items = (0..<input.int(in: 0...3)).map { _ in argument(&input, depth: depth + 1) } }
        case 2: return Drover_V1_Argument()
        default: return .with { $0.value = payload(&input) }
        }
    }

    private static func payload(_ input: inout FuzzInput) -> Drover_V1_Payload {
        let count = input.int(in: 0...24)
        var data = Data((0..<count).map { _ in input.byte() })
        var typeName = input.pick(["", "Int", "[Int]", "[[Int]]", "String", "Double", "[Double]", "Int?"])
        let encoding = Drover_V1_Encoding(rawValue: input.int(in: 0...9)) ?? .raw
        switch input.int(in: 0...3) {
        case 0:
            data = Data(input.pick(["[1,2]", "[[1],[2,3]]", "null", "1e999", "\"x\"", "{", "[]"]).utf8)
        case 1:
            let items = (0..<input.int(in: 0...3)).map { _ in
                Payload(
                    encoding: .int64LE, data: Data((0..<8 * input.int(in: 0...2)).map { _ in input.byte() }),
                    typeName: "[Int]")
            }
            data = PayloadList.encode(items, typeName: "[[Int]]").data
            typeName = "[[Int]]"
        default:
            break
        }
        return .with {
            $0.encoding = encoding
            $0.data = data
            $0.typeName = typeName
        }
    }

    private static func chunk(_ input: inout FuzzInput) -> Drover_V1_DataChunk {
        .with {
            $0.key = key(&input)
            $0.encoding = Drover_V1_Encoding(rawValue: input.int(in: 0...8)) ?? .raw
            $0.totalBytes = Int64(input.int(in: -1...64))
            $0.data = Data((0..<input.int(in: 0...16)).map { _ in input.byte() })
            $0.last = input.chance(70)
            if input.chance(10) { $0.missing = "not here" }
        }
    }
}
