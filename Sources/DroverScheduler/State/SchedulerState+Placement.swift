import DroverCore

extension SchedulerState {
    /// A task whose inputs are all in memory: run it on the best worker, queue it (a root task while
    /// every worker is saturated), or park it until a suitable worker joins.
    ///
    /// Costs no scan of every worker: a root task takes the first of the unsaturated workers (kept
    /// in the order ``bestWorker(for:among:)`` would find), a task with inputs among those holding its inputs and the idle ones
    /// (Dask looks at the holders only); only tasks restricted to some workers look at each.
    mutating func makeReady(_ key: TaskKey, into actions: inout [Action]) {
        tasks[key]!.waitingOn = []
        let task = tasks[key]!
        guard task.allowedWorkers.isEmpty else {
            makeRestrictedReady(task, into: &actions)
            return
        }
        guard !workers.isEmpty else {
            park(key)
            return
        }
        if task.isRoot {
            // Root-task queueing: never hand a worker more than its saturation; the rest wait here,
            // so a million-task map does not flood the workers.
            if let worker = unsaturatedWorkers.first {
                assign(key, to: worker, into: &actions)
            } else {
                tasks[key]!.state = .queued
                queue.push(key, priority: task.priority)
            }
            return
        }
        var candidates = idleWorkers
        for dependency in task.dependencies {
            for holder in tasks[dependency]?.whoHas ?? [] where workers[holder]?.status == .running {
                candidates.insert(holder)
            }
        }
        if candidates.isEmpty {
            candidates = Set(workers.values.lazy.filter { $0.status == .running }.map(\.id))
        }
        if let worker = bestWorker(for: task, among: candidates) {
            assign(key, to: worker, into: &actions)
        } else {
            park(key)  // only paused or closing workers are left
        }
    }

    /// ``makeReady(_:into:)`` for a task that only some workers may run: those are looked for
    /// among all.
    private mutating func makeRestrictedReady(_ task: TaskRecord, into actions: inout [Action]) {
        let allowed = workers.values.filter { $0.isAllowed(by: task.allowedWorkers) }
        let running = allowed.lazy.filter { $0.status == .running }.map(\.id)
        if !allowed.isEmpty, let worker = bestWorker(for: task, among: running) {
            assign(task.key, to: worker, into: &actions)
        } else {
            park(task.key)
        }
    }

    /// No worker may run the task now: it waits for one to join or resume.
    mutating func park(_ key: TaskKey) {
        tasks[key]!.state = .noWorker
        parkedTasks.insert(key)
    }

    /// The worker where the task would start soonest: queued work per thread plus the time to fetch
    /// the inputs it does not hold (Dask's `worker_objective`), an input a worker of its own host
    /// holds costing the shared-memory rate rather than the network's. Ties go to fewer tasks, then
    /// the id.
    func bestWorker<Candidates: Sequence<WorkerID>>(for task: TaskRecord, among candidates: Candidates)
        -> WorkerID?
    {
        var best: (cost: (Double, Int, WorkerID), id: WorkerID)?
        for id in candidates {
            guard let worker = workers[id] else { continue }
            var fetchSeconds = 0.0
            for dependency in task.dependencies {
                guard let input = tasks[dependency], !input.whoHas.contains(worker.id) else { continue }
                let nearby = !worker.host.isEmpty && input.whoHas.contains { workers[$0]?.host == worker.host }
                fetchSeconds +=
                    Double(input.nbytes) / (nearby ? configuration.sameHostBandwidth : configuration.bandwidth)
            }
            let start = worker.occupancy / Double(worker.threads)
            let cost = (start + fetchSeconds, worker.occupyingCount, worker.id)
            if best == nil || cost < best!.cost { best = (cost, id) }
        }
        return best?.id
    }

    /// Whether the worker holds as many root tasks as it should: Dask's worker-saturation (1.1
    /// tasks per thread, at least one) and, beyond Dask, enough estimated work to cover a round
    /// trip to the scheduler (``Configuration/queuedSecondsPerThread``), up to
    /// ``Configuration/maxQueuedPerThread``. Tasks of unknown duration count as half a second each,
    /// so only functions seen to be quick get the deeper queue.
    func isSaturated(_ worker: WorkerRecord) -> Bool {
        let threads = Double(worker.threads)
        let count = Double(worker.occupyingCount)
        let saturation = max(threads, (threads * configuration.workerSaturation).rounded(.up))
        guard count >= saturation else { return false }
        if count >= threads * Double(configuration.maxQueuedPerThread) { return true }
        return worker.occupancy >= threads * configuration.queuedSecondsPerThread
    }

    func estimatedDuration(_ key: TaskKey) -> Double {
        tasks[key].flatMap { durations[$0.spec.function] } ?? configuration.unknownTaskDuration
    }

    mutating func assign(_ key: TaskKey, to worker: WorkerID, into actions: inout [Action]) {
        let estimate = estimatedDuration(key)
        tasks[key]!.state = .processing
        tasks[key]!.processingOn = worker
        tasks[key]!.occupancyEstimate = estimate
        let task = tasks[key]!
        workers[worker]!.processing.insert(key)
        workers[worker]!.occupancy += estimate
        updateIndexes(of: worker)
        var whoHas: [TaskKey: [String]] = [:]
        for dependency in task.dependencies {
            whoHas[dependency] = tasks[dependency]!.whoHas.sorted().compactMap { workers[$0]?.address }
        }
        actions.append(.compute(worker, Assignment(spec: task.spec, priority: task.priority, whoHas: whoHas)))
    }

    mutating func unassign(_ key: TaskKey, from worker: WorkerID) {
        tasks[key]?.processingOn = nil
        tasks[key]?.hasStarted = false
        tasks[key]?.stealingTo = nil
        workers[worker]?.longRunning.remove(key)
        if workers[worker]?.processing.remove(key) != nil {
            // Exactly what `assign` added, so estimates that change meanwhile leave no drift.
            let estimate = tasks[key]?.occupancyEstimate ?? 0
            workers[worker]!.occupancy = max(0, workers[worker]!.occupancy - estimate)
            updateIndexes(of: worker)
        }
    }

    mutating func addHolder(_ worker: WorkerID, of key: TaskKey) {
        guard tasks[key]!.whoHas.insert(worker).inserted else { return }
        workers[worker]!.hasWhat.insert(key)
        workers[worker]!.managedBytes += tasks[key]!.nbytes
    }

    mutating func removeHolder(_ worker: WorkerID, of key: TaskKey) {
        tasks[key]?.whoHas.remove(worker)
        if workers[worker]?.hasWhat.remove(key) != nil {
            workers[worker]!.managedBytes -= tasks[key]?.nbytes ?? 0
        }
    }

    /// A worker freed a slot (or joined, or resumed): give it queued root tasks, then look for work
    /// to steal for it.
    mutating func workerHasCapacity(_ id: WorkerID, into actions: inout [Action]) {
        while let worker = workers[id], worker.status == .running, !isSaturated(worker) {
            guard let key = queue.pop() else { break }
            guard tasks[key]?.state == .queued else { continue }  // released or erred since
            assign(key, to: id, into: &actions)
        }
        balance(into: &actions)
    }

    // MARK: - Work stealing

    /// Idle threads steal from workers holding more tasks than threads: the victim is asked to give
    /// up its last-priority task it has not started (``Event/stealAnswered(_:worker:started:)``).
    mutating func balance(into actions: inout [Action]) {
        // Both sets are kept up to date, so a busy cluster (nobody idle) costs nothing here.
        guard !idleWorkers.isEmpty, !overloadedWorkers.isEmpty else { return }
        // A thread already promised a stolen task asks for no other: without this, each event
        // while a worker idles asked for more, up to every task of the victim.
        var incoming: [WorkerID: Int] = [:]
        for key in pendingSteals.keys {
            if let thief = tasks[key]?.stealingTo { incoming[thief, default: 0] += 1 }
        }
        for id in idleWorkers.sorted() {
            guard let thief = workers[id] else { continue }
            var free = thief.threads - thief.occupyingCount - incoming[id, default: 0]
            while free > 0, let (victim, key) = stealCandidate(for: thief) {
                tasks[key]!.stealingTo = thief.id
                pendingSteals[key] = now
                actions.append(.requestSteal(victim, key))
                free -= 1
            }
        }
    }

    private func stealCandidate(for thief: WorkerRecord) -> (WorkerID, TaskKey)? {
        let busiest = overloadedWorkers.lazy.filter { $0 != thief.id }.compactMap { self.workers[$0] }
            .max { ($0.occupyingCount, $1.id) < ($1.occupyingCount, $0.id) }
        guard let victim = busiest else { return nil }
        var best: TaskRecord?
        for key in victim.processing where !victim.longRunning.contains(key) {
            guard let task = tasks[key], task.stealingTo == nil, thief.isAllowed(by: task.allowedWorkers) else {
                continue
            }
            if best == nil || best!.priority < task.priority { best = task }
        }
        guard let task = best else { return nil }
        return (victim.id, task.key)
    }

    /// A running task seceded: it stops counting against its worker's threads (its occupancy goes,
    /// so `unassign` later takes away nothing), is never stolen, and its thread is capacity again.
    mutating func taskSeceded(_ key: TaskKey, on worker: WorkerID, into actions: inout [Action]) {
        guard let task = tasks[key], task.state == .processing, task.processingOn == worker,
            workers[worker]?.longRunning.insert(key).inserted == true
        else { return }
        tasks[key]!.hasStarted = true
        workers[worker]!.occupancy = max(0, workers[worker]!.occupancy - task.occupancyEstimate)
        tasks[key]!.occupancyEstimate = 0
        updateIndexes(of: worker)
        workerHasCapacity(worker, into: &actions)
    }

    mutating func stealAnswered(_ key: TaskKey, worker: WorkerID, started: Bool, into actions: inout [Action]) {
        guard let task = tasks[key], task.state == .processing, task.processingOn == worker,
            let thief = task.stealingTo
        else {
            // A stale answer (from a worker the task has left) leaves a steal asked since pending.
            if tasks[key]?.stealingTo == nil { pendingSteals[key] = nil }
            return
        }
        pendingSteals[key] = nil
        tasks[key]!.stealingTo = nil
        guard !started else { return }
        unassign(key, from: worker)
        if let record = workers[thief], record.status == .running {
            assign(key, to: thief, into: &actions)
        } else {
            makeReady(key, into: &actions)
        }
        workerHasCapacity(worker, into: &actions)
    }
}
