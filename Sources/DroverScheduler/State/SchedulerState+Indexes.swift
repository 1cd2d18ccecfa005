import DroverCore

// MARK: - Indexes kept beside the records

extension SchedulerState {
    /// Puts the worker in, or takes it out of, the sets placement and stealing read instead of
    /// scanning every worker: ``idleWorkers``, ``unsaturatedWorkers``, ``overloadedWorkers``.
    /// Called whenever its status, tasks or occupancy change, and when it joins or leaves.
    mutating func updateIndexes(of id: WorkerID) {
        guard let worker = workers[id] else {
            idleWorkers.remove(id)
            unsaturatedWorkers.remove(id)
            overloadedWorkers.remove(id)
            return
        }
        let running = worker.status == .running
        Self.set(&idleWorkers, id, running && worker.occupyingCount < worker.threads)
        if running && !isSaturated(worker) {
            unsaturatedWorkers.update(rank(of: worker))
        } else {
            unsaturatedWorkers.remove(id)
        }
        Self.set(&overloadedWorkers, id, worker.occupyingCount > worker.threads)
    }

    /// Where a root task would start on the worker (``bestWorker(for:among:)`` without inputs).
    func rank(of worker: WorkerRecord) -> WorkerHeap.Rank {
        WorkerHeap.Rank(
            start: worker.occupancy / Double(worker.threads), tasks: worker.occupyingCount, id: worker.id)
    }

    private static func set(_ set: inout Set<WorkerID>, _ id: WorkerID, _ member: Bool) {
        if member { set.insert(id) } else { set.remove(id) }
    }

    /// Checks that each index holds exactly what a scan of the records would find.
    func checkIndexes() throws(InvariantViolation) {
        let running = workers.values.filter { $0.status == .running }
        let idle = Set(running.filter { $0.occupyingCount < $0.threads }.map(\.id))
        guard idle == idleWorkers else {
            throw InvariantViolation("idle workers \(idle.sorted()), but the index says \(idleWorkers.sorted())")
        }
        let unsaturated = running.filter { !isSaturated($0) }
        guard Set(unsaturated.map(\.id)) == Set(unsaturatedWorkers.ids), unsaturatedWorkers.isValid else {
            throw InvariantViolation(
                "unsaturated workers \(unsaturated.map(\.id).sorted()), but the index says "
                    + "\(unsaturatedWorkers.ids.sorted()) (valid heap: \(unsaturatedWorkers.isValid))")
        }
        for worker in unsaturated where unsaturatedWorkers.rank(of: worker.id) != rank(of: worker) {
            throw InvariantViolation("\(worker.id) is ranked for placement by stale figures")
        }
        let overloaded = Set(workers.values.filter { $0.occupyingCount > $0.threads }.map(\.id))
        guard overloaded == overloadedWorkers else {
            throw InvariantViolation(
                "overloaded workers \(overloaded.sorted()), but the index says \(overloadedWorkers.sorted())")
        }
        for worker in workers.values where workers[workerAddresses[worker.address] ?? ""]?.address != worker.address {
            throw InvariantViolation("\(worker.id) serves at \(worker.address), which the address index lacks")
        }
        for (address, id) in workerAddresses where workers[id]?.address != address {
            throw InvariantViolation("the address index has \(id) at \(address)")
        }
        for (key, task) in tasks {
            if task.state == .noWorker && !parkedTasks.contains(key) {
                throw InvariantViolation("'\(key)' waits for a worker but is not in the parked index")
            }
            if task.stealingTo != nil && pendingSteals[key] == nil {
                throw InvariantViolation("'\(key)' is being stolen but no steal is pending")
            }
        }
        try tasks.checkSlots()
    }
}
