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
        var added: [TaskKey] = []
        for (index, task) in verdict.accepted.enumerated() {
            var record = TaskRecord(
                spec: task.spec, priority: TaskPriority(user: task.priority, generation: generation, index: index))
            record.allowedWorkers = task.allowedWorkers
            record.retriesLeft = max(0, task.retries)
            tasks[task.spec.key] = record
            added.append(task.spec.key)
        }
        for key in added {
            for dependency in tasks[key]!.dependencies { tasks[dependency]!.dependents.insert(key) }
        }
        // A rejected key is not wanted: the client has its error, not whatever the key now holds.
        let rejected = Set(verdict.rejected.map(\.key))
        let wants = wants.filter { tasks[$0] != nil && !rejected.contains($0) }
        for key in wants {
            clients[client, default: []].insert(key)
            tasks[key]!.wantedBy.insert(client)
        }
        // Tasks that need a result that erred err at once, with their dependents, before anything
        // they need is started for nothing.
        for key in added where tasks[key]?.state == .released {
            if let failed = tasks[key]!.dependencies.first(where: { tasks[$0]?.state == .erred }) {
                markErred(key, tasks[failed]!.error!, into: &actions)
            }
        }
        for key in added where tasks[key]?.state == .released { ensureComputing(key, into: &actions) }
        for key in wants {
            guard let task = tasks[key] else { continue }
            switch task.state {
            case .memory: actions.append(.notify(client, inMemoryNotice(task)))
            case .erred: actions.append(.notify(client, .erred(key, task.error!)))
            case .released: ensureComputing(key, into: &actions)
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
            if tasks[key] == nil {
                var record = TaskRecord(
                    spec: TaskSpec(key: key, function: "scatter", arguments: []),
                    priority: TaskPriority(generation: generation, index: 0))
                record.isScattered = true
                tasks[key] = record
            }
            switch tasks[key]!.state {
            case .memory:
                addHolder(holder, of: key)
            case .released, .erred:
                tasks[key]!.state = .memory
                tasks[key]!.error = nil
                tasks[key]!.nbytes = value.nbytes
                addHolder(holder, of: key)
            case .waiting, .queued, .noWorker, .processing:
                // A task of that key is on its way: its result will do; the copy is not tracked.
                actions.append(.free(holder, [key]))
            }
            clients[client, default: []].insert(key)
            tasks[key]!.wantedBy.insert(client)
            if tasks[key]!.state == .memory {
                actions.append(.notify(client, inMemoryNotice(tasks[key]!)))
                for dependent in tasks[key]!.dependents where tasks[dependent]?.state == .waiting {
                    tasks[dependent]!.waitingOn.remove(key)
                    if tasks[dependent]!.waitingOn.isEmpty { makeReady(dependent, into: &actions) }
                }
            }
        }
    }

    /// Starts a released task and, from lineage, every released task it needs.
    mutating func ensureComputing(_ root: TaskKey, into actions: inout [Action]) {
        // Depth-first without recursion: dependencies before dependents.
        var stack: [(key: TaskKey, expanded: Bool)] = [(root, false)]
        while let (key, expanded) = stack.popLast() {
            guard let task = tasks[key], task.state == .released else { continue }
            if task.isScattered {
                // Nothing can compute it again (its holders are gone with it).
                markErred(key, scatteredValueLost(key), into: &actions)
                continue
            }
            if !expanded {
                stack.append((key, true))
                for dependency in task.dependencies where tasks[dependency]?.state == .released {
                    stack.append((dependency, false))
                }
                continue
            }
            if let failed = task.dependencies.first(where: { tasks[$0]?.state == .erred }) {
                markErred(key, tasks[failed]!.error!, into: &actions)
                continue
            }
            let missing = task.dependencies.filter { tasks[$0]?.state != .memory }
            if missing.isEmpty {
                makeReady(key, into: &actions)
            } else {
                tasks[key]!.waitingOn = InlineSet(missing)
                tasks[key]!.state = .waiting
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
        guard workers[worker] != nil, let task = tasks[key] else {
            // A task that was released meanwhile, or a worker already removed: drop the result.
            if workers[worker] != nil { actions.append(.free(worker, [key])) }
            return
        }
        switch task.state {
        case .processing where task.processingOn == worker:
            unassign(key, from: worker)
            // A worker's word on sizes and durations is not trusted to be sane.
            if let duration, duration.isFinite, duration >= 0 { recordDuration(duration, of: task.spec.function) }
            tasks[key]!.state = .memory
            tasks[key]!.nbytes = max(0, nbytes)
            addHolder(worker, of: key)
            for client in task.wantedBy { actions.append(.notify(client, inMemoryNotice(tasks[key]!))) }
            for dependent in task.dependents {
                guard tasks[dependent]?.state == .waiting else { continue }
                tasks[dependent]!.waitingOn.remove(key)
                if tasks[dependent]!.waitingOn.isEmpty { makeReady(dependent, into: &actions) }
            }
            for dependency in task.dependencies { releaseIfUnneeded(dependency, into: &actions) }
            releaseIfUnneeded(key, into: &actions)
            workerHasCapacity(worker, into: &actions)
        case .memory:
            // A second copy (a steal that raced with the run): keep it as another holder.
            addHolder(worker, of: key)
        default:
            // Finished where it was not assigned (any more): the scheduler did not ask for it.
            actions.append(.free(worker, [key]))
        }
    }

    mutating func taskErred(_ key: TaskKey, on worker: WorkerID, error: TaskError, into actions: inout [Action]) {
        guard let task = tasks[key], task.state == .processing, task.processingOn == worker else { return }
        unassign(key, from: worker)
        if task.retriesLeft > 0 {
            tasks[key]!.retriesLeft -= 1
            tasks[key]!.state = .released
            ensureComputing(key, into: &actions)
        } else {
            markErred(key, error, into: &actions)
        }
        workerHasCapacity(worker, into: &actions)
    }

    /// Errs the task and every task that needs it, with the same error (its key names the culprit).
    mutating func markErred(_ root: TaskKey, _ error: TaskError, into actions: inout [Action]) {
        var stack = [root]
        var released: Set<TaskKey> = []
        while let key = stack.popLast() {
            guard let task = tasks[key], task.state != .erred, task.state != .memory else { continue }
            if let worker = task.processingOn {
                unassign(key, from: worker)
                actions.append(.free(worker, [key]))
            }
            tasks[key]!.state = .erred
            tasks[key]!.error = error
            tasks[key]!.waitingOn = []
            for client in task.wantedBy { actions.append(.notify(client, .erred(key, error))) }
            stack.append(contentsOf: task.dependents)
            released.formUnion(task.dependencies)
        }
        for dependency in released { releaseIfUnneeded(dependency, into: &actions) }
    }

    private mutating func recordDuration(_ seconds: Double, of function: String) {
        let previous = durations[function]
        durations[function] = previous.map { 0.5 * $0 + 0.5 * seconds } ?? seconds
    }

    func inMemoryNotice(_ task: TaskRecord) -> ClientNotice {
        .inMemory(task.key, nbytes: task.nbytes, holders: task.whoHas.sorted().compactMap { workers[$0]?.address })
    }
}

// MARK: - Releasing and forgetting

extension SchedulerState {
    mutating func release(_ keys: [TaskKey], by client: ClientID, into actions: inout [Action]) {
        for key in keys {
            clients[client]?.remove(key)
            guard tasks[key]?.wantedBy.remove(client) != nil else { continue }
            releaseIfUnneeded(key, into: &actions)
        }
        if clients[client]?.isEmpty == true { clients[client] = nil }
    }

    /// Whether a client wants the task or a task still to run needs it.
    func isNeeded(_ key: TaskKey) -> Bool {
        guard let task = tasks[key] else { return false }
        if !task.wantedBy.isEmpty { return true }
        return task.dependents.contains { dependent in
            switch tasks[dependent]?.state {
            case .waiting, .queued, .noWorker, .processing: true
            default: false
            }
        }
    }

    /// Frees what nothing needs: results leave their workers, running tasks are cancelled; a task no
    /// other task refers to is forgotten, and so, in turn, may be its dependencies.
    mutating func releaseIfUnneeded(_ root: TaskKey, into actions: inout [Action]) {
        var stack = [root]
        while let key = stack.popLast() {
            guard let task = tasks[key], !isNeeded(key) else { continue }
            switch task.state {
            case .memory:
                for holder in task.whoHas.sorted() {
                    removeHolder(holder, of: key)
                    actions.append(.free(holder, [key]))
                }
                tasks[key]!.state = .released
            case .processing:
                unassign(key, from: task.processingOn!)
                actions.append(.free(task.processingOn!, [key]))
                tasks[key]!.state = .released
            case .waiting, .queued, .noWorker:
                tasks[key]!.waitingOn = []
                tasks[key]!.state = .released
            case .released, .erred:
                break
            }
            let needers = task.dependents.filter { tasks[$0] != nil }
            if needers.isEmpty {
                // Forget it: nothing can ask for it again.
                tasks[key] = nil
                for dependency in task.dependencies {
                    tasks[dependency]?.dependents.remove(key)
                    stack.append(dependency)
                }
            } else {
                for dependency in task.dependencies { stack.append(dependency) }
            }
        }
    }
}
