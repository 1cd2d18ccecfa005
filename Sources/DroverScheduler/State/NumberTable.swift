import DroverCore

/// Ids (of workers, of clients) interned to small numbers, as task records name them.
///
/// A `WorkerID` or `ClientID` is a `String`: 16 bytes in a record, 17 in a set of one. A record
/// holds 4-byte numbers instead (``TaskRecord/runner``, ``TaskRecord/holders``,
/// ``TaskRecord/clients``), and the state names them through this table. A number is given when
/// its id first needs one and taken back when the id is removed, after which it may be given to
/// another id: whoever removes an id first removes its number from every record.
struct NumberTable<ID: Hashable & Sendable>: Sendable {
    private var numbers: [ID: Int32] = [:]
    private var ids: [ID?] = []
    private var freeNumbers: [Int32] = []

    init() {}

    /// Ids with a number.
    var count: Int { numbers.count }

    /// Every id with a number, in no particular order.
    var allIDs: Dictionary<ID, Int32>.Keys { numbers.keys }

    /// The number of `id`, if it has one.
    func number(of id: ID) -> Int32? { numbers[id] }

    /// The id numbered `number`, which must be in use.
    func id(of number: Int32) -> ID {
        guard let id = ids[Int(number)] else { preconditionFailure("no id is numbered \(number)") }
        return id
    }

    /// Whether `number` is given to an id.
    func isInUse(_ number: Int32) -> Bool {
        number >= 0 && Int(number) < ids.count && ids[Int(number)] != nil
    }

    /// The number of `id`, given now if it had none (a freed number first).
    mutating func intern(_ id: ID) -> Int32 {
        if let number = numbers[id] { return number }
        let number: Int32
        if let free = freeNumbers.popLast() {
            number = free
            ids[Int(number)] = id
        } else {
            precondition(ids.count < Int(Int32.max), "more than 2^31 ids")
            number = Int32(ids.count)
            ids.append(id)
        }
        numbers[id] = number
        return number
    }

    /// Takes `id`'s number back (nothing when it has none).
    mutating func remove(_ id: ID) {
        guard let number = numbers.removeValue(forKey: id) else { return }
        ids[Int(number)] = nil
        if numbers.isEmpty {
            ids = []
            freeNumbers = []
        } else {
            freeNumbers.append(number)
        }
    }

    /// Whether each id's number leads back to it, and the numbers not in use are exactly the free
    /// ones: the table's own invariant, for ``SchedulerState/checkInvariants()``.
    func check(_ name: String) throws(InvariantViolation) {
        for (id, number) in numbers where !isInUse(number) || ids[Int(number)] != id {
            throw InvariantViolation("the \(name) number \(number) of \(id) does not lead back to it")
        }
        let free = Set(freeNumbers)
        guard free.count == freeNumbers.count, numbers.count + free.count == ids.count,
            free.allSatisfy({ !isInUse($0) })
        else {
            throw InvariantViolation(
                "\(ids.count) \(name) numbers, \(numbers.count) in use and \(freeNumbers.count) free")
        }
    }
}
