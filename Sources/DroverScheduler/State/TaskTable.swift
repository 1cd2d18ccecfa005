public import DroverCore

/// The scheduler's tasks: each key interned to an integer slot, the records in one array.
///
/// A dictionary of records would hold each record in its buckets, with up to 2.7 times the room
/// after it grows; here the dictionary maps a key to a 4-byte slot, and freed slots are reused.
/// Reads and writes go through the key, as with a dictionary (`tasks[key]!.state = .memory`
/// mutates the record in place).
public struct TaskTable: Sendable {
    private var slots: [TaskKey: Int32] = [:]
    private var records: [TaskRecord?] = []
    private var freeSlots: [Int32] = []

    public init() {}

    public var count: Int { slots.count }
    public var isEmpty: Bool { slots.isEmpty }

    /// The record of `key`; assigning nil forgets the task and frees its slot.
    public subscript(key: TaskKey) -> TaskRecord? {
        get {
            guard let slot = slots[key] else { return nil }
            return records[Int(slot)]
        }
        _modify {
            if let slot = slots[key] {
                yield &records[Int(slot)]
                if records[Int(slot)] == nil { free(slot, of: key) }
            } else {
                var record: TaskRecord? = nil
                yield &record
                if let record { insert(record, for: key) }
            }
        }
        set {
            if let slot = slots[key] {
                records[Int(slot)] = newValue
                if newValue == nil { free(slot, of: key) }
            } else if let newValue {
                insert(newValue, for: key)
            }
        }
    }

    private mutating func free(_ slot: Int32, of key: TaskKey) {
        slots[key] = nil
        if slots.isEmpty {
            // Give the room back once every task is forgotten.
            records = []
            freeSlots = []
        } else {
            freeSlots.append(slot)
        }
    }

    private mutating func insert(_ record: TaskRecord, for key: TaskKey) {
        if let slot = freeSlots.popLast() {
            records[Int(slot)] = record
            slots[key] = slot
        } else {
            precondition(records.count < Int(Int32.max), "more than 2^31 tasks")
            slots[key] = Int32(records.count)
            records.append(record)
        }
    }

    /// Every record, in no particular order.
    public var values: some Sequence<TaskRecord> {
        records.lazy.compactMap { $0 }
    }

    /// Every key, in no particular order.
    public var keys: Dictionary<TaskKey, Int32>.Keys { slots.keys }

    /// Whether `key`'s slot holds its record, and no other key's slot does: the table's own
    /// invariant, for ``SchedulerState/checkInvariants()``.
    func checkSlots() throws(InvariantViolation) {
        var used = 0
        for (key, slot) in slots {
            guard Int(slot) < records.count, let record = records[Int(slot)], record.key == key else {
                throw InvariantViolation("the slot of '\(key)' does not hold its record")
            }
            used += 1
        }
        guard used + freeSlots.count == records.count else {
            throw InvariantViolation("\(records.count) task slots, \(used) used and \(freeSlots.count) free")
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
