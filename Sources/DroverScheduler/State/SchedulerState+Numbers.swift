public import DroverCore

// MARK: - Workers and clients as records name them

extension SchedulerState {
    /// The workers holding `key`'s result (none when it is not in memory or not known).
    public func whoHas(_ key: TaskKey) -> Set<WorkerID> {
        guard let slot = tasks.slot(of: key) else { return [] }
        return Set(holders(of: slot))
    }

    /// The worker running `key`'s task, if it is processing.
    public func processingOn(_ key: TaskKey) -> WorkerID? {
        tasks.slot(of: key).flatMap { runner(of: $0) }
    }

    /// The clients holding a future to `key`.
    public func wantedBy(_ key: TaskKey) -> Set<ClientID> {
        guard let slot = tasks.slot(of: key) else { return [] }
        return Set(wanters(of: slot))
    }

    /// The workers holding the result in `slot`, in no particular order.
    func holders(of slot: TaskSlot) -> [WorkerID] {
        tasks[slot].holders.map { workerNumbers.id(of: $0) }
    }

    /// The workers holding the result in `slot`, by id.
    func sortedHolders(of slot: TaskSlot) -> [WorkerID] {
        holders(of: slot).sorted()
    }

    /// Whether `worker` holds the result in `slot`.
    func isHeld(_ slot: TaskSlot, by worker: WorkerID) -> Bool {
        guard let number = workerNumbers.number(of: worker) else { return false }
        return tasks[slot].holders.contains(number)
    }

    /// Whether `worker` is the only holder of the result in `slot`.
    func isHeldOnlyBy(_ slot: TaskSlot, _ worker: WorkerID) -> Bool {
        guard let number = workerNumbers.number(of: worker) else { return false }
        return tasks[slot].holders.count == 1 && tasks[slot].holders.contains(number)
    }

    /// The worker running the task in `slot`, if any.
    func runner(of slot: TaskSlot) -> WorkerID? {
        let number = tasks[slot].runner
        return number == TaskRecord.noWorker ? nil : workerNumbers.id(of: number)
    }

    /// Whether the task in `slot` runs on `worker`.
    func isRunning(_ slot: TaskSlot, on worker: WorkerID) -> Bool {
        guard let number = workerNumbers.number(of: worker) else { return false }
        return tasks[slot].runner == number
    }

    /// The clients holding a future to the task in `slot`, in no particular order.
    func wanters(of slot: TaskSlot) -> [ClientID] {
        tasks[slot].clients.map { clientNumbers.id(of: $0) }
    }

    /// Records that `client` holds a future to the task in `slot`.
    mutating func addWanter(_ client: ClientID, of slot: TaskSlot) {
        clientWants[client, default: []].insert(slot)
        tasks[slot].clients.insert(clientNumbers.intern(client))
    }

    /// Records that `client` dropped its future to the task in `slot`; false when it held none.
    /// The caller forgets the client (``forgetClient(_:)``) once it wants nothing.
    mutating func removeWanter(_ client: ClientID, of slot: TaskSlot) -> Bool {
        clientWants[client]?.remove(slot)
        guard let number = clientNumbers.number(of: client) else { return false }
        return tasks[slot].clients.remove(number) != nil
    }

    /// The client wants nothing any more: its entry and its number go.
    mutating func forgetClient(_ client: ClientID) {
        clientWants[client] = nil
        clientNumbers.remove(client)
    }

    /// Checks that every number a record holds names a worker or client that lists it back, and the
    /// tables their own invariants: for ``checkInvariants()``.
    func checkNumbers() throws(InvariantViolation) {
        try workerNumbers.check("worker")
        try clientNumbers.check("client")
        guard workerNumbers.count == workers.count, workers.keys.allSatisfy({ workerNumbers.number(of: $0) != nil })
        else { throw InvariantViolation("\(workerNumbers.count) worker numbers for \(workers.count) workers") }
        guard clientNumbers.count == clientWants.count,
            clientWants.keys.allSatisfy({ clientNumbers.number(of: $0) != nil })
        else {
            throw InvariantViolation("\(clientNumbers.count) client numbers for \(clientWants.count) clients")
        }
        for (slot, task) in tasks.occupied {
            for number in task.holders where !workerNumbers.isInUse(number) {
                throw InvariantViolation("'\(tasks.key(of: slot))' is held by worker number \(number), which is free")
            }
            if task.runner != TaskRecord.noWorker && !workerNumbers.isInUse(task.runner) {
                throw InvariantViolation("'\(tasks.key(of: slot))' runs on worker number \(task.runner), which is free")
            }
            for number in task.clients {
                guard clientNumbers.isInUse(number),
                    clientWants[clientNumbers.id(of: number)]?.contains(slot) == true
                else {
                    throw InvariantViolation(
                        "'\(tasks.key(of: slot))' lists client number \(number), which does not want it")
                }
            }
        }
    }
}
