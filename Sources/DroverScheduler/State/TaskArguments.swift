public import DroverCore
import Foundation

/// The function names and arguments of the tasks of one submission, encoded one after another in
/// one buffer.
///
/// A task's `[ArgumentSpec]` takes an array, a box for each argument and often a buffer for its
/// bytes: ~110 bytes of allocations for a no-op's one small literal, kept for as long as the task
/// is (its lineage: a lost result is computed again from them). Here they take their encoded size
/// in a buffer shared by the submission, and are decoded again when the task is sent to a worker.
/// Each task's bytes begin with its function's position in ``functions``, the submission's
/// distinct names (a record keeps no name of its own). The buffer is immutable once built, exactly
/// its size, and freed with the last task that refers to it.
final class ArgumentArena: Sendable {
    let bytes: [UInt8]
    /// The submission's function names, each once.
    let functions: [String]

    init(bytes: [UInt8], functions: [String]) {
        self.bytes = bytes
        self.functions = functions
    }

    /// Encodes the functions and argument lists of many tasks into one arena.
    struct Builder {
        private(set) var bytes: [UInt8] = []
        /// Each list appended: where it starts.
        private(set) var offsets: [Int] = []
        private var functions: [String] = []
        private var functionPositions: [String: Int] = [:]

        /// Appends one task's function and arguments.
        mutating func append(function: String, _ arguments: [ArgumentSpec]) {
            offsets.append(bytes.count)
            let position = functionPositions[function] ?? functions.count
            if position == functions.count {
                functions.append(function)
                functionPositions[function] = position
            }
            writeCount(position)
            writeCount(arguments.count)
            for argument in arguments { write(argument) }
        }

        /// The arena, and each task appended, in order.
        func finish() -> [TaskArguments] {
            guard !bytes.isEmpty else { return [] }
            // The builder's buffer may have grown to twice its size: the arena keeps an exact copy.
            let exact = [UInt8](unsafeUninitializedCapacity: bytes.count) { buffer, count in
                count = buffer.initialize(fromContentsOf: bytes)
            }
            let arena = ArgumentArena(bytes: exact, functions: functions)
            return offsets.indices.map { index in
                let end = index + 1 < offsets.count ? offsets[index + 1] : bytes.count
                return TaskArguments(arena: arena, start: offsets[index], end: end)
            }
        }

        private mutating func write(_ argument: ArgumentSpec) {
            switch argument {
            case .value(let payload):
                bytes.append(0)
                let encoding = payload.encoding.rawValue
                writeNumber(UInt(bitPattern: (encoding << 1) ^ (encoding >> (Int.bitWidth - 1))))  // zigzag
                writeCount(payload.data.count)
                bytes.append(contentsOf: payload.data)
                writeText(payload.typeName)
            case .key(let key):
                bytes.append(1)
                writeText(key.rawValue)
            case .list(let items):
                bytes.append(2)
                writeCount(items.count)
                for item in items { write(item) }
            }
        }

        private mutating func writeText(_ text: String) {
            writeCount(text.utf8.count)
            bytes.append(contentsOf: text.utf8)
        }

        private mutating func writeCount(_ value: Int) { writeNumber(UInt(value)) }

        /// LEB128: seven bits a byte, low first.
        private mutating func writeNumber(_ value: UInt) {
            var rest = value
            while rest >= 0x80 {
                bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
                rest >>= 7
            }
            bytes.append(UInt8(rest))
        }
    }
}

/// One task's function name and arguments: a range of an ``ArgumentArena`` (none: no function and
/// no arguments).
struct TaskArguments: Sendable {
    private let arena: ArgumentArena?
    private let start: UInt32
    private let end: UInt32

    /// No function and no arguments.
    init() {
        arena = nil
        start = 0
        end = 0
    }

    fileprivate init(arena: ArgumentArena, start: Int, end: Int) {
        precondition(end <= Int(UInt32.max), "a submission's arguments take over 4 GiB")
        self.arena = arena
        self.start = UInt32(start)
        self.end = UInt32(end)
    }

    /// Its arena, to tell arenas apart, and the room the arena's buffer takes.
    var arenaFootprint: (ObjectIdentifier, Int)? {
        arena.map { (ObjectIdentifier($0), $0.bytes.capacity + 32 * $0.functions.count) }
    }

    /// How many function names its arena keeps (for tests).
    var arenaFunctionCount: Int { arena?.functions.count ?? 0 }

    /// The bytes it takes in its arena.
    var encodedCount: Int { Int(end - start) }

    /// The function's name (empty when there is no arena).
    var function: String {
        guard let arena else { return "" }
        return arena.bytes.withUnsafeBufferPointer { buffer in
            var reader = Reader(buffer: buffer, position: Int(start))
            return arena.functions[reader.count()]
        }
    }

    /// The arguments, decoded.
    var decoded: [ArgumentSpec] {
        guard let arena else { return [] }
        return arena.bytes.withUnsafeBufferPointer { buffer in
            var reader = Reader(buffer: buffer, position: Int(start))
            _ = reader.count()  // the function's position
            let count = reader.count()
            var arguments: [ArgumentSpec] = []
            arguments.reserveCapacity(count)
            for _ in 0..<count { arguments.append(reader.argument()) }
            precondition(reader.position == Int(end), "a task's arguments did not decode to their end")
            return arguments
        }
    }

    private struct Reader {
        let buffer: UnsafeBufferPointer<UInt8>
        var position: Int

        mutating func argument() -> ArgumentSpec {
            let tag = buffer[position]
            position += 1
            switch tag {
            case 0:
                let zigzag = number()
                let encoding = Int(bitPattern: zigzag >> 1) ^ -Int(bitPattern: zigzag & 1)
                let length = count()
                let data = Data(buffer[position..<position + length])
                position += length
                return .value(Payload(encoding: .init(rawValue: encoding), data: data, typeName: text()))
            case 1:
                return .key(TaskKey(text()))
            default:
                var items: [ArgumentSpec] = []
                for _ in 0..<count() { items.append(argument()) }
                return .list(items)
            }
        }

        mutating func text() -> String {
            let length = count()
            let text = String(decoding: buffer[position..<position + length], as: UTF8.self)
            position += length
            return text
        }

        mutating func count() -> Int { Int(number()) }

        mutating func number() -> UInt {
            var value: UInt = 0
            var shift: UInt = 0
            while true {
                let byte = buffer[position]
                position += 1
                value |= UInt(byte & 0x7F) << shift
                if byte < 0x80 { return value }
                shift += 7
            }
        }
    }
}

extension TaskArguments {
    /// What a scattered value's record keeps: the function name "scatter" and no arguments, in one
    /// arena every such record shares.
    static let scatter: TaskArguments = {
        var builder = ArgumentArena.Builder()
        builder.append(function: "scatter", [])
        return builder.finish()[0]
    }()
}
