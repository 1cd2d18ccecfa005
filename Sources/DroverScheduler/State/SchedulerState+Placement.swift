import DroverCore

extension SchedulerState {
    /// A task whose inputs are all in memory: run it on the best worker, queue it (a root task while
    /// every worker is saturated), or park it until a suitable worker joins.
    mutating func makeReady(_ key: TaskKey, into actions: inout [Action]) {
        let task = tasks[key]!
        tasks[key]!.waitingOn = []
        let candidates = workers.values.filter { $0.status == .running && $0.isAllowed(by: task.allowedWorkers) }
        let anyAllowed = workers.values.contains { $0.isAllowed(by: task.allowedWorkers) }
        guard anyAllowed else {
            tasks[key]!.state = .noWorker
            return
        }
        if task.isRoot && task.allowedWorkers.isEmpty {
            // Root-task queueing: never hand a worker more than its saturation; the rest wait here,
            // so a million-task map does not flood the workers.
            if let worker = bestWorker(for: task, among: candidates.filter { !isSaturated($0) }) {
                assign(key, to: worker, into: &actions)
            } else {
                tasks[key]!.state = .queued
                queue.push(key, priority: task.priority)
            }
            return
        }
        if let worker = bestWorker(for: task, among: candidates) {
            assign(key, to: worker, into: &actions)
        } else {
            tasks[key]!.state = .noWorker  // only paused workers may run it
        }
    }

    /// The worker where the task would start soonest: queued work per thread plus the time to fetch
    /// the inputs it does not hold (Dask's `worker_objective`). Ties go to fewer tasks, then the id.
    func bestWorker(for task: TaskRecord, among candidates: [WorkerRecord]) -> WorkerID? {
        func cost(_ worker: WorkerRecord) -> (Double, Int, WorkerID) {
            var missingBytes: Int64 = 0
            for dependency in task.dependencies {
                guard let input = tasks[dependency], !input.whoHas.contains(worker.id) else { continue }
                missingBytes += input.nbytes
            }
            let start = worker.occupancy / Double(worker.threads)
            return (start + Double(missingBytes) / configuration.bandwidth, worker.occupyingCount, worker.id)
        }
        return candidates.min { cost($0) < cost($1) }?.id
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
        let task = tasks[key]!
        tasks[key]!.state = .processing
        tasks[key]!.processingOn = worker
        workers[worker]!.processing.insert(key)
        let estimate = estimatedDuration(key)
        tasks[key]!.occupancyEstimate = estimate
        workers[worker]!.occupancy += estimate
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
        let idle = workers.values.filter { $0.status == .running && $0.occupyingCount < $0.threads }
            .sorted { $0.id < $1.id }
        for thief in idle {
            var free = thief.threads - thief.occupyingCount
            while free > 0, let (victim, key) = stealCandidate(for: thief) {
                tasks[key]!.stealingTo = thief.id
                pendingSteals[key] = now
                actions.append(.requestSteal(victim, key))
                free -= 1
            }
        }
    }

    private func stealCandidate(for thief: WorkerRecord) -> (WorkerID, TaskKey)? {
        let busiest = workers.values.filter { $0.id != thief.id && $0.occupyingCount > $0.threads }
            .max { ($0.occupyingCount, $1.id) < ($1.occupyingCount, $0.id) }
        guard let victim = busiest else { return nil }
        let stealable = victim.processing.subtracting(victim.longRunning).compactMap { tasks[$0] }.filter {
            $0.stealingTo == nil && thief.isAllowed(by: $0.allowedWorkers)
        }
        guard let task = stealable.max(by: { $0.priority < $1.priority }) else { return nil }
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
        workerHasCapacity(worker, into: &actions)
    }

    mutating func stealAnswered(_ key: TaskKey, worker: WorkerID, started: Bool, into actions: inout [Action]) {
        pendingSteals[key] = nil
        guard let task = tasks[key], task.state == .processing, task.processingOn == worker,
            let thief = task.stealingTo
        else { return }
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
