import DroverCore

extension SchedulerState {
    mutating func workerJoined(
        _ id: WorkerID,
        address: String,
        threads: Int,
        memoryLimit: Int64,
        into actions: inout [Action]
    ) {
        if workers[id] != nil {
            // Registered again (a reconnect after its stream broke): what it had is unknown.
            workerLeft(id, cause: "registered again", into: &actions)
        }
        workers[id] = WorkerRecord(id: id, address: address, threads: threads, memoryLimit: memoryLimit)
        let parked = tasks.values.filter { $0.state == .noWorker }.sorted { $0.priority < $1.priority }
        for task in parked where workers[id]!.isAllowed(by: task.allowedWorkers) {
            makeReady(task.key, into: &actions)
        }
        workerHasCapacity(id, into: &actions)
    }

    /// A worker is gone. Results only it held are recomputed from lineage when still needed; tasks
    /// it was running go elsewhere, unless workers died under them `allowedFailures` times.
    mutating func workerLeft(_ id: WorkerID, cause: String, into actions: inout [Action]) {
        guard let worker = workers[id] else { return }
        workers[id] = nil
        for key in worker.hasWhat.sorted() {
            tasks[key]?.whoHas.remove(id)
            if tasks[key]?.state == .memory && tasks[key]!.whoHas.isEmpty {
                lost(key, into: &actions)
            }
        }
        for key in worker.processing.sorted() {
            guard var task = tasks[key] else { continue }
            task.processingOn = nil
            task.stealingTo = nil
            task.killedWorkers.append(id)
            task.state = .released
            tasks[key] = task
            if task.killedWorkers.count >= configuration.allowedFailures {
                let error = TaskError(
                    kind: .killedWorker,
                    key: key,
                    function: task.spec.function,
                    message: "Attempted to run task '\(key)' on \(task.killedWorkers.count) different workers, "
                        + "but all those workers died while running it. The last worker that attempted to run it "
                        + "was \(id) (\(cause)). Workers: "
                        + task.killedWorkers.map(\.rawValue).joined(separator: ", ") + ".",
                    location: worker.address
                )
                markErred(key, error, into: &actions)
            } else {
                ensureComputing(key, into: &actions)
            }
        }
        // Tasks waiting for a worker that may no longer exist.
        for task in tasks.values where task.state == .queued && workers.isEmpty {
            tasks[task.key]!.state = .noWorker
        }
        for (key, task) in tasks where task.stealingTo == id {
            tasks[key]!.stealingTo = nil
        }
    }

    /// Every copy of a result is gone: tell the clients, and recompute it if anything needs it.
    mutating func lost(_ key: TaskKey, into actions: inout [Action]) {
        let task = tasks[key]!
        tasks[key]!.state = .released
        if task.isScattered {
            let error = TaskError(
                kind: .failed, key: key, function: "scatter",
                message: "the scattered value '\(key)' was lost: every worker holding it is gone, "
                    + "and a scattered value has no lineage to recompute it from")
            markErred(key, error, into: &actions)
            return
        }
        for client in task.wantedBy.sorted() { actions.append(.notify(client, .lost(key))) }
        // Dependents that were about to use it must wait for it again.
        for dependent in task.dependents.sorted() {
            guard let record = tasks[dependent] else { continue }
            switch record.state {
            case .processing:
                let worker = record.processingOn!
                unassign(dependent, from: worker)
                if workers[worker] != nil { actions.append(.free(worker, [dependent])) }
                tasks[dependent]!.state = .waiting
                tasks[dependent]!.waitingOn = [key]
            case .queued, .noWorker:
                tasks[dependent]!.state = .waiting
                tasks[dependent]!.waitingOn = [key]
            case .waiting:
                tasks[dependent]!.waitingOn.insert(key)
            case .memory, .erred, .released:
                break
            }
        }
        if isNeeded(key) {
            ensureComputing(key, into: &actions)
        } else {
            releaseIfUnneeded(key, into: &actions)
        }
    }

    mutating func dataMissing(_ key: TaskKey, holder: WorkerID, reporter: WorkerID, into actions: inout [Action]) {
        guard let task = tasks[key], task.state == .memory, task.whoHas.contains(holder) else { return }
        removeHolder(holder, of: key)
        if tasks[key]!.whoHas.isEmpty {
            lost(key, into: &actions)
        } else {
            // Other copies exist: send the tasks waiting on it there again.
            for dependent in task.dependents.sorted() where tasks[dependent]?.processingOn == reporter {
                unassign(dependent, from: reporter)
                actions.append(.free(reporter, [dependent]))
                tasks[dependent]!.state = .released
                ensureComputing(dependent, into: &actions)
            }
        }
    }
}
