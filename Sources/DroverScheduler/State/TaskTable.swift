public import DroverCore

/// A task's place in ``TaskTable``: its key interned to an integer, valid while the task is known.
///
/// The state looks a key up once, where an event names it, and passes the slot on; records name
/// their dependencies and dependents by slot. A slot is reused once its task is forgotten, so
/// nothing may keep one past that (the queue, parked tasks and pending steals keep keys).
typealias TaskSlot = Int32

/// The scheduler's tasks: each key interned to an integer slot, the records in one array.
///
/// A dictionary of records would hold each record in its buckets, with up to 2.7 times the room
/// after it grows; here the records sit in one array, freed slots are reused, the keys' bytes sit
/// end to end in a ``KeyArena`` (no `String` allocation per key), and a ``SlotIndex`` finds a
/// key's slot by hashing and comparing those bytes.
/// Reads and writes go through the key, as with a dictionary (`tasks[key]!.state = .memory`
/// mutates the record in place), or, inside the state, through the slot (`tasks[slot].state`,
/// with no hashing and no copy of the record).
public struct TaskTable: Sendable {
    private var index = SlotIndex()
    private var records: [TaskRecord?] = []
    private var keyBytes = KeyArena()
    private var freeSlots: [Int32] = []

    public init() {}

    public var count: Int { index.count }
    public var isEmpty: Bool { index.count == 0 }

    /// The record of `key`; assigning nil forgets the task and frees its slot.
    public subscript(key: TaskKey) -> TaskRecord? {
        _read {
            // Yielded in place: reading one field copies (and retains) nothing else.
            if let slot = slot(of: key) { yield records[Int(slot)] } else { yield nil }
        }
        _modify {
            if let slot = slot(of: key) {
                yield &records[Int(slot)]
                if records[Int(slot)] == nil { free(slot) }
            } else {
                var record: TaskRecord? = nil
                yield &record
                if let record { insert(record, for: key) }
            }
        }
        set {
            if let slot = slot(of: key) {
                if let newValue {
                    records[Int(slot)] = newValue
                } else {
                    records[Int(slot)] = nil
                    free(slot)
                }
            } else if let newValue {
                insert(newValue, for: key)
            }
        }
    }

    /// The slot of `key`'s task, if it is known.
    func slot(of key: TaskKey) -> TaskSlot? {
        index.find(hash: key.hashValue) { keyBytes.matches(key, at: $0) }
    }

    /// Whether `slot` holds a task (it may have been forgotten since it was looked up).
    func contains(_ slot: TaskSlot) -> Bool { records[Int(slot)] != nil }

    /// The key of the task in `slot` (made from its bytes in the arena).
    func key(of slot: TaskSlot) -> TaskKey { keyBytes.key(at: slot) }

    /// What the client submitted for the task in `slot` (its arguments decoded again).
    func spec(of slot: TaskSlot) -> TaskSpec { self[slot].spec(key: key(of: slot)) }

    /// The record in `slot`, read and changed in place; the slot must hold a task.
    subscript(slot: TaskSlot) -> TaskRecord {
        _read { yield records[Int(slot)]! }
        _modify { yield &records[Int(slot)]! }
    }

    /// Adds the task `key`, not known yet, and returns its slot.
    mutating func insert(_ record: TaskRecord, key: TaskKey) -> TaskSlot {
        precondition(slot(of: key) == nil, "'\(key)' is known already")
        return insert(record, for: key)
    }

    /// Makes room for `count` more tasks whose keys take `keyBytes` in all, so that a big
    /// submission grows the records, the key arena and the index once, to their size, rather than
    /// doubling them as it goes (an array that doubles keeps up to half its room unused: at 100,000
    /// tasks, ~30 % of the records' array).
    mutating func reserveCapacity(adding count: Int, keyBytes: Int) {
        let slots = records.count + Swift.max(0, count - freeSlots.count)
        if slots > records.capacity { records.reserveCapacity(Self.grown(records.capacity, toHold: slots)) }
        self.keyBytes.reserveCapacity(slots: slots, bytes: keyBytes)
        index.reserveCapacity(index.count + count)
    }

    /// The capacity to grow to from `capacity` to hold `needed`: exactly `needed` for one big step,
    /// at least a quarter more for small ones (so that many small submissions still grow it
    /// geometrically, in amortized constant time per task).
    static func grown(_ capacity: Int, toHold needed: Int) -> Int {
        Swift.max(needed, capacity + capacity / 4)
    }

    /// Forgets the task in `slot`, which may then hold another.
    mutating func remove(_ slot: TaskSlot) {
        precondition(records[Int(slot)] != nil, "slot \(slot) holds no task")
        records[Int(slot)] = nil
        free(slot)
    }

    /// Every slot holding a task, with its record, in slot order.
    var occupied: some Sequence<(slot: TaskSlot, record: TaskRecord)> {
        records.lazy.enumerated().compactMap { index, record -> (slot: TaskSlot, record: TaskRecord)? in
            record.map { (TaskSlot(index), $0) }
        }
    }

    private mutating func free(_ slot: Int32) {
        index.remove(slot, hash: keyBytes.hashValue(at: slot))
        if index.count == 0 {
            // Give the room back once every task is forgotten.
            records = []
            freeSlots = []
            keyBytes.removeAll()
        } else {
            freeSlots.append(slot)
            keyBytes.remove(at: slot)
        }
    }

    @discardableResult
    private mutating func insert(_ record: TaskRecord, for key: TaskKey) -> TaskSlot {
        let slot: Int32
        if let free = freeSlots.popLast() {
            slot = free
            records[Int(slot)] = record
        } else {
            precondition(records.count < Int(Int32.max) - 1, "more than 2^31 tasks")
            slot = Int32(records.count)
            records.append(record)
        }
        keyBytes.store(key, at: slot)
        index.insert(slot, hash: key.hashValue)
        return slot
    }

    /// Every record, in no particular order.
    public var values: some Sequence<TaskRecord> {
        records.lazy.compactMap { $0 }
    }

    /// Every key, in no particular order.
    public var keys: some Sequence<TaskKey> {
        records.indices.lazy.filter { records[$0] != nil }.map { keyBytes.key(at: TaskSlot($0)) }
    }

    /// The room its buffers take, by buffer (see ``SchedulerState/memoryAccount``).
    var memoryAccount: [(structure: String, bytes: Int)] {
        [
            (
                "task records (\(records.capacity) × \(MemoryLayout<TaskRecord?>.stride) B)",
                records.capacity * MemoryLayout<TaskRecord?>.stride
            ),
            ("key arena: bytes", keyBytes.capacity),
            ("key arena: spans", keyBytes.spanCapacity * MemoryLayout<UInt64>.stride),
            ("slot index (\(index.capacity) buckets)", index.capacity * MemoryLayout<UInt64>.stride),
            ("free slots", freeSlots.capacity * MemoryLayout<Int32>.stride),
        ]
    }

    /// The bytes the keys take in their arena, with removed keys' not yet compacted away.
    var keyArenaBytes: (live: Int, dead: Int) { (keyBytes.liveBytes, keyBytes.deadBytes) }

    /// Whether each key's slot holds its record and no other key's slot does, the index finds
    /// every key, and the key arena holds a key for exactly the slots in use: the table's own
    /// invariant, for ``SchedulerState/checkInvariants()``.
    func checkSlots() throws(InvariantViolation) {
        guard index.isValid else { throw InvariantViolation("the task index is not a valid hash table") }
        try keyBytes.check(slots: records.count) { records[Int($0)] != nil }
        var used = 0
        for (slot, record) in records.enumerated() where record != nil {
            used += 1
            let key = keyBytes.key(at: TaskSlot(slot))
            guard keyBytes.hashValue(at: TaskSlot(slot)) == key.hashValue else {
                throw InvariantViolation("the arena's hash of '\(key)' is not its key's")
            }
            guard self.slot(of: key) == Int32(slot) else {
                throw InvariantViolation("the slot of '\(key)' does not hold its record")
            }
        }
        guard used == index.count, used + freeSlots.count == records.count else {
            throw InvariantViolation(
                "\(records.count) task slots, \(used) used (\(index.count) indexed) and \(freeSlots.count) free")
        }
        for slot in freeSlots where records[Int(slot)] != nil {
            throw InvariantViolation("free task slot \(slot) holds a record")
        }
    }
}

extension TaskTable: Sequence {
    public typealias Element = (key: TaskKey, value: TaskRecord)

    public struct Iterator: IteratorProtocol {
        fileprivate let table: TaskTable
        fileprivate var position = 0

        public mutating func next() -> Element? {
            while position < table.records.count {
                defer { position += 1 }
                if let record = table.records[position] { return (table.key(of: TaskSlot(position)), record) }
            }
            return nil
        }
    }

    public func makeIterator() -> Iterator { Iterator(table: self) }
}
