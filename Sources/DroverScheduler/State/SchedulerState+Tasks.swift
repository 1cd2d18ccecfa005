import DroverCore

// MARK: - Submission

extension SchedulerState {
    mutating func graphSubmitted(
        _ client: ClientID,
        _ submitted: [SubmittedTask],
        wants: [TaskKey],
        into actions: inout [Action]
    ) {
        // Nothing changes for a task the check refuses: its submitter hears why, and that is all.
        let verdict = checkSubmission(submitted, wants: wants)
        for error in verdict.rejected { actions.append(.notify(client, .erred(error.key, error))) }
        for key in verdict.unknownWants {
            let error = TaskError(
                kind: .rejected, key: key, function: "",
                message: "the scheduler rejected the want: no task of the key '\(key)' was submitted or is held")
            actions.append(.notify(client, .erred(key, error)))
        }
        generation += 1
        var added: [TaskSlot] = []
        added.reserveCapacity(verdict.accepted.count)
        // The submission's arguments go into one arena, kept as long as one of its tasks is.
        var arena = ArgumentArena.Builder()
        for task in verdict.accepted { arena.append(function: task.spec.function, task.spec.arguments) }
        let arguments = arena.finish()
        tasks.reserveCapacity(
            adding: verdict.accepted.count,
            keyBytes: verdict.accepted.reduce(0) { $0 + $1.spec.key.rawValue.utf8.count })
        for (index, task) in verdict.accepted.enumerated() {
            var record = TaskRecord(
                arguments: arguments[index],
                priority: TaskPriority(user: task.priority, generation: generation, index: index))
            record.allowedWorkers = task.allowedWorkers
            record.retriesLeft = max(0, task.retries)
            added.append(tasks.insert(record, key: task.spec.key))
        }
        // Every dependency is known now (in this submission, earlier or later, or before it).
        for (slot, task) in zip(added, verdict.accepted) {
            for dependency in task.spec.dependencies {
                let input = tasks.slot(of: dependency)!
                tasks[slot].dependencies.insert(input)
                tasks[input].dependents.insert(slot)
            }
        }
        // A rejected key is not wanted: the client has its error, not whatever the key now holds.
        let rejected = verdict.rejected.isEmpty ? [] : Set(verdict.rejected.map(\.key))
        var wanted: [TaskSlot] = []
        for key in wants where !rejected.contains(key) {
            guard let slot = tasks.slot(of: key) else { continue }
            addWanter(client, of: slot)
            wanted.append(slot)
        }
        // Tasks that need a result that erred err at once, with their dependents, before anything
        // they need is started for nothing.
        for slot in added where tasks.contains(slot) && tasks[slot].state == .released {
            if let failed = tasks[slot].dependencies.first(where: { tasks[$0].state == .erred }) {
                markErred(slot, tasks[failed].error!, into: &actions)
            }
        }
        for slot in added where tasks.contains(slot) && tasks[slot].state == .released {
            ensureComputing(slot, into: &actions)
        }
        for slot in wanted where tasks.contains(slot) {
            switch tasks[slot].state {
            case .memory: actions.append(.notify(client, inMemoryNotice(slot)))
            case .erred: actions.append(.notify(client, .erred(tasks.key(of: slot), tasks[slot].error!)))
            case .released: ensureComputing(slot, into: &actions)
            case .waiting, .queued, .noWorker, .processing: break
            }
        }
    }

    mutating func dataScattered(_ client: ClientID, _ values: [ScatteredValue], into actions: inout [Action]) {
        for value in values {
            let key = value.key
            guard let holder = worker(at: value.workerAddress) else {
                let error = TaskError(
                    kind: .failed, key: key, function: "scatter",
                    message: "the worker it was scattered to (\(value.workerAddress)) is no longer connected")
                actions.append(.notify(client, .erred(key, error)))
                continue
            }
            let slot: TaskSlot
            if let known = tasks.slot(of: key) {
                slot = known
            } else {
                var record = TaskRecord(
                    arguments: .scatter,
                    priority: TaskPriority(generation: generation, index: 0))
                record.isScattered = true
                slot = tasks.insert(record, key: key)
            }
            switch tasks[slot].state {
            case .memory:
                addHolder(holder, of: slot)
            case .released, .erred:
                tasks[slot].state = .memory
                tasks[slot].error = nil
                tasks[slot].nbytes = value.nbytes
                addHolder(holder, of: slot)
            case .waiting, .queued, .noWorker, .processing:
                // A task of that key is on its way: its result will do; the copy is not tracked.
                actions.append(.free(holder, [key]))
            }
            addWanter(client, of: slot)
            if tasks[slot].state == .memory {
                actions.append(.notify(client, inMemoryNotice(slot)))
                for dependent in tasks[slot].dependents where tasks[dependent].state == .waiting {
                    tasks[dependent].waitingOn.remove(slot)
                    if tasks[dependent].waitingOn.isEmpty { makeReady(dependent, into: &actions) }
                }
            }
        }
    }

    /// Starts a released task and, from lineage, every released task it needs.
    mutating func ensureComputing(_ root: TaskSlot, into actions: inout [Action]) {
        // Depth-first without recursion: dependencies before dependents.
        var stack: [(slot: TaskSlot, expanded: Bool)] = [(root, false)]
        while let (slot, expanded) = stack.popLast() {
            guard tasks.contains(slot), tasks[slot].state == .released else { continue }
            if tasks[slot].isScattered {
                // Nothing can compute it again (its holders are gone with it).
                markErred(slot, scatteredValueLost(tasks.key(of: slot)), into: &actions)
                continue
            }
            if !expanded {
                stack.append((slot, true))
                for dependency in tasks[slot].dependencies where tasks[dependency].state == .released {
                    stack.append((dependency, false))
                }
                continue
            }
            if let failed = tasks[slot].dependencies.first(where: { tasks[$0].state == .erred }) {
                markErred(slot, tasks[failed].error!, into: &actions)
                continue
            }
            var missing = InlineSet()
            for dependency in tasks[slot].dependencies where tasks[dependency].state != .memory {
                missing.insert(dependency)
            }
            if missing.isEmpty {
                makeReady(slot, into: &actions)
            } else {
                tasks[slot].waitingOn = missing
                tasks[slot].state = .waiting
            }
        }
    }
}

// MARK: - Results and failures

extension SchedulerState {
    mutating func taskFinished(
        _ key: TaskKey,
        on worker: WorkerID,
        nbytes: Int64,
        duration: Double?,
        into actions: inout [Action]
    ) {
        // A worker has a number exactly while it is known.
        guard let number = workerNumbers.number(of: worker), let slot = tasks.slot(of: key) else {
            // A task that was released meanwhile, or a worker already removed: drop the result.
            if workers[worker] != nil { actions.append(.free(worker, [key])) }
            return
        }
        switch tasks[slot].state {
        case .processing where tasks[slot].runner == number:
            unassign(slot, from: worker)
            // A worker's word on sizes and durations is not trusted to be sane.
            if let duration, duration.isFinite, duration >= 0 {
                recordDuration(duration, of: tasks[slot].function)
            }
            tasks[slot].state = .memory
            tasks[slot].nbytes = max(0, nbytes)
            addHolder(worker, of: slot)
            for client in tasks[slot].clients {
                actions.append(.notify(clientNumbers.id(of: client), inMemoryNotice(slot)))
            }
            for dependent in tasks[slot].dependents where tasks[dependent].state == .waiting {
                tasks[dependent].waitingOn.remove(slot)
                if tasks[dependent].waitingOn.isEmpty { makeReady(dependent, into: &actions) }
            }
            for dependency in tasks[slot].dependencies { releaseIfUnneeded(dependency, into: &actions) }
            releaseIfUnneeded(slot, into: &actions)
            workerHasCapacity(worker, into: &actions)
        case .memory:
            // A second copy (a steal that raced with the run): keep it as another holder.
            addHolder(worker, of: slot)
        default:
            // Finished where it was not assigned (any more): the scheduler did not ask for it.
            actions.append(.free(worker, [key]))
        }
    }

    mutating func taskErred(_ key: TaskKey, on worker: WorkerID, error: TaskError, into actions: inout [Action]) {
        guard let slot = tasks.slot(of: key), tasks[slot].state == .processing, isRunning(slot, on: worker)
        else { return }
        unassign(slot, from: worker)
        if tasks[slot].retriesLeft > 0 {
            tasks[slot].retriesLeft -= 1
            tasks[slot].state = .released
            ensureComputing(slot, into: &actions)
        } else {
            markErred(slot, error, into: &actions)
        }
        workerHasCapacity(worker, into: &actions)
    }

    /// Errs the task and every task that needs it, with the same error (its key names the culprit).
    mutating func markErred(_ root: TaskSlot, _ error: TaskError, into actions: inout [Action]) {
        var stack = [root]
        var released: Set<TaskSlot> = []
        while let slot = stack.popLast() {
            guard tasks.contains(slot), tasks[slot].state != .erred, tasks[slot].state != .memory else { continue }
            let key = tasks.key(of: slot)
            if let worker = runner(of: slot) {
                unassign(slot, from: worker)
                actions.append(.free(worker, [tasks.key(of: slot)]))
            }
            tasks[slot].state = .erred
            tasks[slot].error = error
            tasks[slot].waitingOn = []
            for client in wanters(of: slot) { actions.append(.notify(client, .erred(key, error))) }
            stack.append(contentsOf: tasks[slot].dependents)
            released.formUnion(tasks[slot].dependencies)
        }
        for dependency in released { releaseIfUnneeded(dependency, into: &actions) }
    }

    private mutating func recordDuration(_ seconds: Double, of function: String) {
        let previous = durations[function]
        durations[function] = previous.map { 0.5 * $0 + 0.5 * seconds } ?? seconds
    }

    func inMemoryNotice(_ slot: TaskSlot) -> ClientNotice {
        .inMemory(
            tasks.key(of: slot), nbytes: tasks[slot].nbytes,
            holders: sortedHolders(of: slot).compactMap { workers[$0]?.address })
    }
}

// MARK: - Releasing and forgetting

extension SchedulerState {
    mutating func release(_ keys: [TaskKey], by client: ClientID, into actions: inout [Action]) {
        for key in keys {
            guard let slot = tasks.slot(of: key) else { continue }
            guard removeWanter(client, of: slot) else { continue }
            releaseIfUnneeded(slot, into: &actions)
        }
        if clientWants[client]?.isEmpty == true { forgetClient(client) }
    }

    /// Whether a client wants the task or a task still to run needs it.
    func isNeeded(_ slot: TaskSlot) -> Bool {
        if !tasks[slot].clients.isEmpty { return true }
        return tasks[slot].dependents.contains { dependent in
            switch tasks[dependent].state {
            case .waiting, .queued, .noWorker, .processing: true
            case .released, .memory, .erred: false
            }
        }
    }

    /// Frees what nothing needs: results leave their workers, running tasks are cancelled; a task no
    /// other task refers to is forgotten, and so, in turn, may be its dependencies.
    mutating func releaseIfUnneeded(_ root: TaskSlot, into actions: inout [Action]) {
        var stack = [root]
        while let slot = stack.popLast() {
            guard tasks.contains(slot), !isNeeded(slot) else { continue }
            switch tasks[slot].state {
            case .memory:
                let key = tasks.key(of: slot)
                for holder in sortedHolders(of: slot) {
                    removeHolder(holder, of: slot)
                    actions.append(.free(holder, [key]))
                }
                tasks[slot].state = .released
            case .processing:
                let worker = runner(of: slot)!
                unassign(slot, from: worker)
                actions.append(.free(worker, [tasks.key(of: slot)]))
                tasks[slot].state = .released
            case .waiting, .queued, .noWorker:
                tasks[slot].waitingOn = []
                tasks[slot].state = .released
            case .released, .erred:
                break
            }
            let dependencies = tasks[slot].dependencies
            if tasks[slot].dependents.isEmpty {
                // Forget it: nothing can ask for it again.
                for dependency in dependencies { tasks[dependency].dependents.remove(slot) }
                tasks.remove(slot)
            }
            stack.append(contentsOf: dependencies)
        }
    }
}
