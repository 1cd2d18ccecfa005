import DroverCore
import DroverProto

// MARK: - Payloads

extension MessageFuzzing {
    /// Decodes `payload` as the task value types a worker's functions commonly take, as a task
    /// would its arguments: packed numbers, JSON, raw bytes and strings, lists (the hand-written
    /// `PayloadList` reader) and protobuf messages. Each is tried as the payload says and with
    /// its type name cleared, so the type check does not stop the decoding.
    static func probe(_ payload: Payload) {
        var untyped = payload
        untyped.typeName = ""
        for candidate in [payload, untyped] {
            _ = try? Int.decode(payload: candidate)
            _ = try? Int64.decode(payload: candidate)
            _ = try? Int32.decode(payload: candidate)
            _ = try? Double.decode(payload: candidate)
            _ = try? Float.decode(payload: candidate)
            _ = try? UInt8.decode(payload: candidate)
            _ = try? Bool.decode(payload: candidate)
            _ = try? String.decode(payload: candidate)
            _ = try? [Int].decode(payload: candidate)
            _ = try? [Double].decode(payload: candidate)
            _ = try? [UInt8].decode(payload: candidate)
            _ = try? [String].decode(payload: candidate)
            _ = try? [[Int]].decode(payload: candidate)
            _ = try? [[Double]].decode(payload: candidate)
            _ = try? Int?.decode(payload: candidate)
            _ = try? Drover_V1_TaskSpec.decode(payload: candidate)
            _ = try? [Drover_V1_TaskSpec].decode(payload: candidate)
        }
    }

    /// Probes every payload of a resolved argument, and decodes it as a list argument.
    static func probe(_ argument: ArgumentValue) {
        switch argument {
        case .payload(let payload): probe(payload)
        case .list(let items):
            _ = try? [Int].decode(argument: argument)
            _ = try? [[Double]].decode(argument: argument)
            for item in items { probe(item) }
        case .object: break
        }
    }

    /// Calls `body` with every literal payload in `arguments`.
    static func forEachPayload(in arguments: [ArgumentSpec], _ body: (Payload) -> Void) {
        for argument in arguments {
            switch argument {
            case .value(let payload): body(payload)
            case .key: continue
            case .list(let items): forEachPayload(in: items, body)
            }
        }
    }
}
