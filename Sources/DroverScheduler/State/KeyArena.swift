import DroverCore

/// The keys of ``TaskTable``'s tasks, their UTF-8 bytes end to end in one buffer, found by slot.
///
/// A `TaskKey` is a `String`: a key of more than 15 bytes (`noop-` and 32 hex digits is 37) is its
/// own heap allocation of ~80 bytes with malloc's header, a million of them interleaved with
/// whatever decoding freed around them. Here a key costs its bytes plus 8 (its span); a
/// `TaskKey` is made again only where a message or an action names the task.
///
/// A removed key's bytes stay until the dead bytes outnumber the live ones; then the live keys are
/// copied into a new buffer (amortized: each copy follows as many removed bytes as it copies).
struct KeyArena: Sendable {
    /// The keys' bytes; a removed key's stay until the next compaction.
    private var bytes: [UInt8] = []
    /// Per slot: the key's offset in ``bytes`` (the low 40 bits) and its length (the high 24), or
    /// ``free`` for a slot that holds no key.
    private var spans: [UInt64] = []
    /// Bytes of removed keys still in ``bytes``.
    private(set) var deadBytes = 0
    /// Keys stored.
    private(set) var count = 0

    /// The mark of a slot without a key.
    private static var free: UInt64 { .max }
    /// The longest key stored: its length takes 24 bits of its span.
    static var maxKeyBytes: Int { (1 << 24) - 1 }
    /// Below this many dead bytes the buffer is not compacted (small tables churn freely).
    static var compactionFloor: Int { 4096 }

    init() {}

    /// Bytes of the keys stored.
    var liveBytes: Int { bytes.count - deadBytes }

    /// The room taken by the buffer, in bytes.
    var capacity: Int { bytes.capacity }

    /// The room taken by the spans, in spans.
    var spanCapacity: Int { spans.capacity }

    /// Makes room for keys up to slot `slots - 1` and for `bytes` more bytes of keys (see
    /// ``TaskTable/reserveCapacity(adding:keyBytes:)``).
    mutating func reserveCapacity(slots: Int, bytes count: Int) {
        if slots > spans.capacity { spans.reserveCapacity(TaskTable.grown(spans.capacity, toHold: slots)) }
        let needed = bytes.count + count
        if needed > bytes.capacity { bytes.reserveCapacity(TaskTable.grown(bytes.capacity, toHold: needed)) }
    }

    /// Stores `key` as the key of `slot`, which holds none.
    mutating func store(_ key: TaskKey, at slot: TaskSlot) {
        let index = Int(slot)
        if index >= spans.count {
            spans.append(contentsOf: repeatElement(Self.free, count: index + 1 - spans.count))
        }
        precondition(spans[index] == Self.free, "slot \(slot) holds a key already")
        let offset = bytes.count
        bytes.append(contentsOf: key.rawValue.utf8)
        let length = bytes.count - offset
        precondition(length <= Self.maxKeyBytes, "a key of \(length) bytes (at most \(Self.maxKeyBytes))")
        precondition(offset < 1 << 40, "more than 2^40 bytes of keys")
        spans[index] = UInt64(offset) | UInt64(length) << 40
        count += 1
    }

    /// Forgets the key of `slot`, which holds one.
    mutating func remove(at slot: TaskSlot) {
        let (_, length) = span(of: slot)
        spans[Int(slot)] = Self.free
        deadBytes += length
        count -= 1
        if count == 0 {
            removeAll()
        } else if deadBytes >= Self.compactionFloor && deadBytes > liveBytes {
            compact()
        }
    }

    /// Forgets every key and gives the room back.
    mutating func removeAll() {
        bytes = []
        spans = []
        deadBytes = 0
        count = 0
    }

    /// Whether `slot` holds a key.
    func holdsKey(_ slot: TaskSlot) -> Bool {
        Int(slot) < spans.count && spans[Int(slot)] != Self.free
    }

    /// The key of `slot`, made again from its bytes.
    func key(at slot: TaskSlot) -> TaskKey {
        let (offset, length) = span(of: slot)
        return bytes.withUnsafeBufferPointer {
            TaskKey(String(decoding: UnsafeBufferPointer(rebasing: $0[offset..<offset + length]), as: UTF8.self))
        }
    }

    /// Whether `slot`'s key is `key`, compared byte by byte without making a `TaskKey`.
    func matches(_ key: TaskKey, at slot: TaskSlot) -> Bool {
        let (offset, length) = span(of: slot)
        let utf8 = key.rawValue.utf8
        guard utf8.count == length else { return false }
        return bytes.withUnsafeBufferPointer { buffer in
            let stored = UnsafeBufferPointer(rebasing: buffer[offset..<offset + length])
            return utf8.withContiguousStorageIfAvailable { $0.elementsEqual(stored) } ?? utf8.elementsEqual(stored)
        }
    }

    /// The `hashValue` a `TaskKey` of `slot`'s key has, from its bytes.
    func hashValue(at slot: TaskSlot) -> Int {
        let (offset, length) = span(of: slot)
        return bytes.withUnsafeBufferPointer {
            TaskKey.hashValue(ofUTF8: UnsafeBufferPointer(rebasing: $0[offset..<offset + length]))
        }
    }

    private func span(of slot: TaskSlot) -> (offset: Int, length: Int) {
        let span = spans[Int(slot)]
        precondition(span != Self.free, "slot \(slot) holds no key")
        return (Int(span & 0xFF_FFFF_FFFF), Int(span >> 40))
    }

    /// Copies the live keys, in slot order, into a buffer of their size.
    private mutating func compact() {
        var packed: [UInt8] = []
        packed.reserveCapacity(liveBytes)
        for index in spans.indices where spans[index] != Self.free {
            let (offset, length) = span(of: TaskSlot(index))
            spans[index] = UInt64(packed.count) | UInt64(length) << 40
            packed.append(contentsOf: bytes[offset..<offset + length])
        }
        bytes = packed
        deadBytes = 0
        while spans.last == Self.free { spans.removeLast() }
    }

    /// Whether exactly the slots `occupied` says hold a key (of the first `slots`; none after),
    /// every span lies in the buffer without overlapping another, and the dead bytes are the rest:
    /// the arena's own invariant, for tests and ``TaskTable/checkSlots()``.
    func check(slots: Int, occupied: (TaskSlot) -> Bool) throws(InvariantViolation) {
        var live: [(offset: Int, length: Int)] = []
        for index in 0..<max(slots, spans.count) {
            let slot = TaskSlot(index)
            guard holdsKey(slot) == (index < slots && occupied(slot)) else {
                throw InvariantViolation("slot \(slot) \(holdsKey(slot) ? "holds a key but no task" : "has no key")")
            }
            guard holdsKey(slot) else { continue }
            let (offset, length) = span(of: slot)
            guard offset + length <= bytes.count else {
                throw InvariantViolation("the key of slot \(slot) ends past the arena (\(bytes.count) bytes)")
            }
            // An empty key takes no bytes: its offset may be the next key's.
            if length > 0 { live.append((offset, length)) }
        }
        live.sort { $0.offset < $1.offset }
        for (earlier, later) in zip(live, live.dropFirst()) where earlier.offset + earlier.length > later.offset {
            throw InvariantViolation("two keys overlap at byte \(later.offset) of the arena")
        }
        let used = live.reduce(0) { $0 + $1.length }
        let keys = (0..<spans.count).count { holdsKey(TaskSlot($0)) }
        guard keys == count, used + deadBytes == bytes.count else {
            throw InvariantViolation("\(used) bytes of keys and \(deadBytes) dead in an arena of \(bytes.count)")
        }
    }
}
