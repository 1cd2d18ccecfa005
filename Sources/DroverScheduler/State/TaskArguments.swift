public import DroverCore
import Foundation

/// The arguments of the tasks of one submission, encoded one after another in one buffer.
///
/// A task's `[ArgumentSpec]` takes an array, a box for each argument and often a buffer for its
/// bytes: ~110 bytes of allocations for a no-op's one small literal, kept for as long as the task
/// is (its lineage: a lost result is computed again from them). Here they take their encoded size
/// in a buffer shared by the submission, and are decoded again when the task is sent to a worker.
/// The buffer is immutable once built and freed with the last task that refers to it.
final class ArgumentArena: Sendable {
    let bytes: [UInt8]

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Encodes the argument lists of many tasks into one arena.
    struct Builder {
        private(set) var bytes: [UInt8] = []
        /// Each list appended: where it starts.
        private(set) var offsets: [Int] = []

        /// Appends one task's arguments; returns its position among the lists.
        mutating func append(_ arguments: [ArgumentSpec]) {
            offsets.append(bytes.count)
            writeCount(arguments.count)
            for argument in arguments { write(argument) }
        }

        /// The arena, and each list appended, in order.
        func finish() -> [TaskArguments] {
            guard !bytes.isEmpty else { return [] }
            let arena = ArgumentArena(bytes: bytes)
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

/// One task's arguments: a range of an ``ArgumentArena`` (none for a task without arguments).
struct TaskArguments: Sendable {
    private let arena: ArgumentArena?
    private let start: UInt32
    private let end: UInt32

    /// No arguments.
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

    /// The bytes it takes in its arena.
    var encodedCount: Int { Int(end - start) }

    /// The arguments, decoded.
    var decoded: [ArgumentSpec] {
        guard let arena else { return [] }
        return arena.bytes.withUnsafeBufferPointer { buffer in
            var reader = Reader(buffer: buffer, position: Int(start))
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
