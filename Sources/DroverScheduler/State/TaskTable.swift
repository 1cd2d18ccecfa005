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
/// after it grows; here the records sit in one array, freed slots are reused, and a
/// ``SlotIndex`` finds a key's slot without holding the key a second time (the record holds it).
/// Reads and writes go through the key, as with a dictionary (`tasks[key]!.state = .memory`
/// mutates the record in place), or, inside the state, through the slot (`tasks[slot].state`,
/// with no hashing and no copy of the record).
public struct TaskTable: Sendable {
    private var index = SlotIndex()
    private var records: [TaskRecord?] = []
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
                if records[Int(slot)] == nil { free(slot, of: key) }
            } else {
                var record: TaskRecord? = nil
                yield &record
                if let record { insert(record, for: key) }
            }
        }
        set {
            if let slot = slot(of: key) {
                if let newValue {
                    precondition(newValue.key == key, "the record of '\(newValue.key)' stored under '\(key)'")
                    records[Int(slot)] = newValue
                } else {
                    records[Int(slot)] = nil
                    free(slot, of: key)
                }
            } else if let newValue {
                insert(newValue, for: key)
            }
        }
    }

    /// The slot of `key`'s task, if it is known.
    func slot(of key: TaskKey) -> TaskSlot? {
        index.find(hash: key.hashValue) { records[Int($0)]!.key == key }
    }

    /// Whether `slot` holds a task (it may have been forgotten since it was looked up).
    func contains(_ slot: TaskSlot) -> Bool { records[Int(slot)] != nil }

    /// The key of the task in `slot`.
    func key(of slot: TaskSlot) -> TaskKey { records[Int(slot)]!.key }

    /// The record in `slot`, read and changed in place; the slot must hold a task.
    subscript(slot: TaskSlot) -> TaskRecord {
        _read { yield records[Int(slot)]! }
        _modify { yield &records[Int(slot)]! }
    }

    /// Adds a task whose key is not known yet, and returns its slot.
    mutating func insert(_ record: TaskRecord) -> TaskSlot {
        precondition(slot(of: record.key) == nil, "'\(record.key)' is known already")
        return insert(record, for: record.key)
    }

    /// Forgets the task in `slot`, which may then hold another.
    mutating func remove(_ slot: TaskSlot) {
        let key = records[Int(slot)]!.key
        records[Int(slot)] = nil
        free(slot, of: key)
    }

    /// Every slot holding a task, with its record, in slot order.
    var occupied: some Sequence<(slot: TaskSlot, record: TaskRecord)> {
        records.lazy.enumerated().compactMap { index, record -> (slot: TaskSlot, record: TaskRecord)? in
            record.map { (TaskSlot(index), $0) }
        }
    }

    private mutating func free(_ slot: Int32, of key: TaskKey) {
        index.remove(slot, hash: key.hashValue)
        if index.count == 0 {
            // Give the room back once every task is forgotten.
            records = []
            freeSlots = []
        } else {
            freeSlots.append(slot)
        }
    }

    @discardableResult
    private mutating func insert(_ record: TaskRecord, for key: TaskKey) -> TaskSlot {
        precondition(record.key == key, "the record of '\(record.key)' stored under '\(key)'")
        let slot: Int32
        if let free = freeSlots.popLast() {
            slot = free
            records[Int(slot)] = record
        } else {
            precondition(records.count < Int(Int32.max) - 1, "more than 2^31 tasks")
            slot = Int32(records.count)
            records.append(record)
        }
        index.insert(slot, hash: key.hashValue)
        return slot
    }

    /// Every record, in no particular order.
    public var values: some Sequence<TaskRecord> {
        records.lazy.compactMap { $0 }
    }

    /// Every key, in no particular order.
    public var keys: some Sequence<TaskKey> {
        records.lazy.compactMap { $0?.key }
    }

    /// Whether each key's slot holds its record and no other key's slot does, and the index finds
    /// every key: the table's own invariant, for ``SchedulerState/checkInvariants()``.
    func checkSlots() throws(InvariantViolation) {
        guard index.isValid else { throw InvariantViolation("the task index is not a valid hash table") }
        var used = 0
        for (slot, record) in records.enumerated() {
            guard let record else { continue }
            used += 1
            guard self.slot(of: record.key) == Int32(slot) else {
                throw InvariantViolation("the slot of '\(record.key)' does not hold its record")
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
        fileprivate var base: IndexingIterator<[TaskRecord?]>

        public mutating func next() -> Element? {
            while let slot = base.next() {
                if let record = slot { return (record.key, record) }
            }
            return nil
        }
    }

    public func makeIterator() -> Iterator { Iterator(base: records.makeIterator()) }
}
