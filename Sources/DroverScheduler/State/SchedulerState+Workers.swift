import DroverCore

extension SchedulerState {
    mutating func workerJoined(
        _ id: WorkerID,
        address: String,
        threads: Int,
        memoryLimit: Int64,
        nanny: String,
        host: String = "",
        into actions: inout [Action]
    ) {
        if workers[id] != nil {
            // Registered again (a reconnect after its stream broke): what it had is unknown.
            workerLeft(id, cause: "it registered again", into: &actions)
        }
        registrations += 1
        workers[id] = WorkerRecord(
            id: id, address: address, threads: threads, memoryLimit: memoryLimit, nanny: nanny, host: host,
            incarnation: registrations, joined: now)
        _ = workerNumbers.intern(id)
        if !nanny.isEmpty { nannies[id] = nanny }
        workerAddresses[address] = id
        updateIndexes(of: id)
        workerCanTakeWork(id, into: &actions)
    }

    /// A worker joined or resumed: tasks parked for want of a worker it may run go to it (or
    /// elsewhere), then it takes queued root tasks.
    mutating func workerCanTakeWork(_ id: WorkerID, into actions: inout [Action]) {
        if !parkedTasks.isEmpty {
            let parked = parkedTasks.compactMap { tasks.slot(of: $0) }.filter { tasks[$0].state == .noWorker }
            parkedTasks = Set(parked.map { tasks.key(of: $0) })
            for slot in parked.sorted(by: { tasks[$0].priority < tasks[$1].priority })
            where workers[id]!.isAllowed(by: tasks[slot].allowedWorkers) {
                parkedTasks.remove(tasks.key(of: slot))
                makeReady(slot, into: &actions)
            }
        }
        workerHasCapacity(id, into: &actions)
    }

    /// A worker is gone. Results only it held are recomputed from lineage when still needed; tasks
    /// it was running go elsewhere, unless workers died under them `allowedFailures` times.
    ///
    /// A death counts against the tasks the worker said it had started; when it said none (it died
    /// before telling), against all it was given, as Dask does. Tasks merely queued on a worker that
    /// dies are not suspects, so a chaos of kills does not err innocent tasks.
    mutating func workerLeft(_ id: WorkerID, cause: String, into actions: inout [Action]) {
        guard let worker = workers[id] else { return }
        // Its number stays until every record has let go of it (at the end).
        let number = workerNumbers.number(of: id)!
        defer { workerNumbers.remove(id) }
        workers[id] = nil
        updateIndexes(of: id)
        if workerAddresses[worker.address] == id {
            // Another worker registered at the same address meanwhile keeps it.
            workerAddresses[worker.address] = workers.values.first { $0.address == worker.address }?.id
        }
        exitReportDeadlines[id] = nil
        defer { actions.append(.workerRemoved(id, cause: worker.isRetiring ? "retired" : cause)) }
        replicating[id] = nil
        // Copies this worker was making for retiring ones: those keys need another home.
        for source in replicating.keys {
            replicating[source] = replicating[source]!.filter { $0.value != id }
        }
        // Every copy it held goes first, so that no task is made ready on an input that is
        // about to be found lost below.
        var lostKeys: [TaskKey] = []
        for slot in sortedByKey(worker.heldSlots) {
            let key = tasks.key(of: slot)
            tasks[slot].holders.remove(number)
            if tasks[slot].state == .memory && tasks[slot].holders.isEmpty {
                tasks[slot].state = .released
                lostKeys.append(key)
            }
        }
        let started = worker.processingSlots.filter { tasks[$0].hasStarted }
        for slot in sortedByKey(worker.processingSlots) {
            // An earlier task's error may have reached this one already.
            guard tasks.contains(slot), tasks[slot].state == .processing, tasks[slot].runner == number
            else { continue }
            let key = tasks.key(of: slot)
            tasks[slot].runner = TaskRecord.noWorker
            tasks[slot].stealingTo = nil
            tasks[slot].hasStarted = false
            tasks[slot].state = .released
            guard started.isEmpty || started.contains(slot) else {
                ensureComputing(slot, into: &actions)
                continue
            }
            tasks[slot].killedWorkers.append(WorkerDeath(worker: id, cause: cause))
            let task = tasks[slot]
            if task.killedWorkers.count >= configuration.allowedFailures {
                let error = TaskError(
                    kind: .killedWorker,
                    key: key,
                    function: task.function,
                    message: "Attempted to run task '\(key)' \(task.killedWorkers.count) times, "
                        + "but each time the worker died while running it. The last was \(id): "
                        + "\(cause.hasSuffix(".") ? String(cause.dropLast()) : cause). "
                        + "Deaths: " + task.killedWorkers.map(\.description).joined(separator: "; ") + ".",
                    location: worker.address
                )
                actions.append(.taskKilledWorkers(key, error))
                markErred(slot, error, into: &actions)
            } else {
                ensureComputing(slot, into: &actions)
            }
        }
        // Then the lost copies: clients hear of them, and what still needs them waits for them
        // (those the tasks above need are already on their way again). Scattered values first:
        // they cannot be recomputed, and what needs them errs.
        for key in lostKeys where tasks[key]?.isScattered == true { lost(key, into: &actions) }
        for key in lostKeys where tasks[key]?.isScattered == false { lost(key, into: &actions) }
        // Tasks waiting for a worker that may no longer exist.
        if workers.isEmpty {
            let queued = tasks.occupied.filter { $0.record.state == .queued }.map(\.slot)
            for slot in queued { park(slot) }
        }
        for key in pendingSteals.keys where tasks[key]?.stealingTo == id {
            tasks[key]!.stealingTo = nil
        }
    }

    /// The error of a scattered value whose every copy is gone.
    func scatteredValueLost(_ key: TaskKey) -> TaskError {
        TaskError(
            kind: .failed, key: key, function: "scatter",
            message: "the scattered value '\(key)' was lost: every worker holding it is gone, "
                + "and a scattered value has no lineage to recompute it from")
    }

    /// Every copy of a result is gone: tell the clients, and recompute it if anything needs it.
    ///
    /// The key may already be on its way again (another lost key's recomputation needed it).
    mutating func lost(_ key: TaskKey, into actions: inout [Action]) {
        guard let slot = tasks.slot(of: key) else { return }
        if tasks[slot].state == .memory { tasks[slot].state = .released }
        if tasks[slot].isScattered {
            markErred(slot, scatteredValueLost(key), into: &actions)
            return
        }
        for client in wanters(of: slot).sorted() { actions.append(.notify(client, .lost(key))) }
        // Dependents that were about to use it must wait for it again.
        for dependent in sortedByKey(tasks[slot].dependents) {
            switch tasks[dependent].state {
            case .processing:
                let worker = runner(of: dependent)!
                unassign(dependent, from: worker)
                if workers[worker] != nil { actions.append(.free(worker, [tasks.key(of: dependent)])) }
                tasks[dependent].state = .waiting
                tasks[dependent].waitingOn = [slot]
            case .queued, .noWorker:
                tasks[dependent].state = .waiting
                tasks[dependent].waitingOn = [slot]
            case .waiting:
                tasks[dependent].waitingOn.insert(slot)
            case .memory, .erred, .released:
                break
            }
        }
        if isNeeded(slot) {
            ensureComputing(slot, into: &actions)
        } else {
            releaseIfUnneeded(slot, into: &actions)
        }
    }

    mutating func dataMissing(_ key: TaskKey, holder: WorkerID, reporter: WorkerID, into actions: inout [Action]) {
        guard let slot = tasks.slot(of: key), tasks[slot].state == .memory, isHeld(slot, by: holder)
        else { return }
        removeHolder(holder, of: slot)
        if tasks[slot].holders.isEmpty {
            lost(key, into: &actions)
        } else {
            // Other copies exist: send the tasks waiting on it there again.
            for dependent in sortedByKey(tasks[slot].dependents) where isRunning(dependent, on: reporter) {
                unassign(dependent, from: reporter)
                actions.append(.free(reporter, [tasks.key(of: dependent)]))
                tasks[dependent].state = .released
                ensureComputing(dependent, into: &actions)
            }
        }
    }

    /// Slots in the order of their keys, for actions in an order that does not depend on slots.
    func sortedByKey<Slots: Sequence<TaskSlot>>(_ slots: Slots) -> [TaskSlot] {
        slots.sorted { tasks.key(of: $0) < tasks.key(of: $1) }
    }
}

// MARK: - Pause

extension SchedulerState {
    /// Over its memory's pause threshold: it gets nothing new (a closing worker stays closing).
    mutating func workerPaused(_ id: WorkerID, into actions: inout [Action]) {
        guard workers[id]?.status == .running else { return }
        workers[id]!.status = .paused
        updateIndexes(of: id)
        actions.append(.workerPauseChanged(id, paused: true))
    }

    mutating func workerResumed(_ id: WorkerID, into actions: inout [Action]) {
        guard workers[id]?.status == .paused else { return }
        workers[id]!.status = .running
        updateIndexes(of: id)
        actions.append(.workerPauseChanged(id, paused: false))
        workerCanTakeWork(id, into: &actions)
    }
}

// MARK: - Disconnection and retirement

extension SchedulerState {
    /// The worker's stream ended. One with a nanny waits, idle, for the nanny's word on why.
    mutating func workerDisconnected(_ id: WorkerID, cause: String, into actions: inout [Action]) {
        guard let worker = workers[id] else { return }
        guard !worker.nanny.isEmpty, !worker.isRetiring else {
            workerLeft(id, cause: cause, into: &actions)
            return
        }
        workers[id]!.status = .closing
        updateIndexes(of: id)
        exitReportDeadlines[id] = (worker.incarnation, cause, now + configuration.exitReportGrace)
        actions.append(.awaitExitReport(id, incarnation: worker.incarnation, cause: cause))
    }

    /// A graceful shutdown: nothing new goes to the worker; idle workers steal what it has not
    /// started; the results only it holds are copied elsewhere; then it is told to close.
    mutating func workerRetiring(_ id: WorkerID, into actions: inout [Action]) {
        guard workers[id] != nil, !workers[id]!.isRetiring else { return }
        workers[id]!.isRetiring = true
        workers[id]!.status = .closing
        updateIndexes(of: id)
        replicating[id] = [:]
        balance(into: &actions)
    }

    /// Moves a retiring worker on: copies of the results only it holds, then `close`.
    mutating func continueRetiring(_ id: WorkerID, into actions: inout [Action]) {
        guard let worker = workers[id], worker.isRetiring, var copying = replicating[id] else { return }
        let targets = workers.values.filter { $0.status == .running && $0.id != id }
        var orders: [WorkerID: [TaskKey: [String]]] = [:]
        var planned: [WorkerID: Int64] = [:]
        var remaining = 0
        if !targets.isEmpty {
            for slot in sortedByKey(worker.heldSlots) {
                guard isHeldOnlyBy(slot, id), isNeeded(slot) else { continue }
                let key = tasks.key(of: slot)
                remaining += 1
                guard copying[key] == nil else { continue }
                // The target holding the fewest bytes, counting what it is sent now.
                let target = targets.min {
                    ($0.managedBytes + planned[$0.id, default: 0], $0.id)
                        < ($1.managedBytes + planned[$1.id, default: 0], $1.id)
                }!.id
                copying[key] = target
                planned[target, default: 0] += tasks[slot].nbytes
                orders[target, default: [:]][key] = [worker.address]
            }
        }
        replicating[id] = copying
        for (target, keys) in orders.sorted(by: { $0.key < $1.key }) { actions.append(.replicate(target, keys)) }
        if remaining == 0 && worker.processingSlots.isEmpty {
            replicating[id] = nil
            actions.append(.close(id, reason: "retired"))
        }
    }

    /// A worker now holds copies it was asked to make.
    mutating func keysAcquired(_ sizes: [TaskKey: Int64], by id: WorkerID, into actions: inout [Action]) {
        guard workers[id] != nil else { return }
        for (key, _) in sizes.sorted(by: { $0.key < $1.key }) {
            for source in replicating.keys where replicating[source]![key] == id {
                replicating[source]![key] = nil
            }
            guard let slot = tasks.slot(of: key), tasks[slot].state == .memory else {
                actions.append(.free(id, [key]))  // released meanwhile
                continue
            }
            addHolder(id, of: slot)
            let task = tasks[slot]
            // Clients fetching it hear of the new copy, listed before any retiring holder's.
            let addresses = holders(of: slot).compactMap { workers[$0] }.sorted {
                ($0.status == .closing ? 1 : 0, $0.id) < ($1.status == .closing ? 1 : 0, $1.id)
            }.map(\.address)
            for client in wanters(of: slot).sorted() {
                actions.append(.notify(client, .inMemory(key, nbytes: task.nbytes, holders: addresses)))
            }
        }
    }
}
