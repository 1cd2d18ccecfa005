import DroverCore

extension SchedulerState {
    /// A task whose inputs are all in memory: run it on the best worker, queue it (a root task while
    /// every worker is saturated), or park it until a suitable worker joins.
    ///
    /// Costs no scan of every worker: a root task takes the first of the unsaturated workers (kept
    /// in the order ``bestWorker(for:among:)`` would find), a task with inputs among those holding its inputs and the idle ones
    /// (Dask looks at the holders only); only tasks restricted to some workers look at each.
    mutating func makeReady(_ slot: TaskSlot, into actions: inout [Action]) {
        tasks[slot].waitingOn = []
        guard tasks[slot].allowedWorkers.isEmpty else {
            makeRestrictedReady(slot, into: &actions)
            return
        }
        guard !workers.isEmpty else {
            park(slot)
            return
        }
        if tasks[slot].isRoot {
            // Root-task queueing: never hand a worker more than its saturation; the rest wait here,
            // so a million-task map does not flood the workers.
            if let worker = unsaturatedWorkers.first {
                assign(slot, to: worker, into: &actions)
            } else {
                tasks[slot].state = .queued
                queue.push(tasks.key(of: slot), priority: tasks[slot].priority)
            }
            return
        }
        var candidates = idleWorkers
        for dependency in tasks[slot].dependencies {
            for holder in holders(of: dependency) where workers[holder]?.status == .running {
                candidates.insert(holder)
            }
        }
        if candidates.isEmpty {
            candidates = Set(workers.values.lazy.filter { $0.status == .running }.map(\.id))
        }
        if let worker = bestWorker(for: slot, among: candidates) {
            assign(slot, to: worker, into: &actions)
        } else {
            park(slot)  // only paused or closing workers are left
        }
    }

    /// ``makeReady(_:into:)`` for a task that only some workers may run: those are looked for
    /// among all.
    private mutating func makeRestrictedReady(_ slot: TaskSlot, into actions: inout [Action]) {
        let allowed = workers.values.filter { $0.isAllowed(by: tasks[slot].allowedWorkers) }
        let running = allowed.lazy.filter { $0.status == .running }.map(\.id)
        if !allowed.isEmpty, let worker = bestWorker(for: slot, among: running) {
            assign(slot, to: worker, into: &actions)
        } else {
            park(slot)
        }
    }

    /// No worker may run the task now: it waits for one to join or resume.
    mutating func park(_ slot: TaskSlot) {
        tasks[slot].state = .noWorker
        parkedTasks.insert(tasks.key(of: slot))
    }

    /// The worker where the task would start soonest: queued work per thread plus the time to fetch
    /// the inputs it does not hold (Dask's `worker_objective`), an input a worker of its own host
    /// holds costing the shared-memory rate rather than the network's. Ties go to fewer tasks, then
    /// the id.
    func bestWorker<Candidates: Sequence<WorkerID>>(for slot: TaskSlot, among candidates: Candidates)
        -> WorkerID?
    {
        var best: (cost: (Double, Int, WorkerID), id: WorkerID)?
        for id in candidates {
            guard let worker = workers[id] else { continue }
            var fetchSeconds = 0.0
            for dependency in tasks[slot].dependencies {
                let input = tasks[dependency]
                guard !isHeld(dependency, by: worker.id) else { continue }
                let nearby =
                    !worker.host.isEmpty && holders(of: dependency).contains { workers[$0]?.host == worker.host }
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

    func estimatedDuration(_ slot: TaskSlot) -> Double {
        durations[tasks[slot].function] ?? configuration.unknownTaskDuration
    }

    mutating func assign(_ slot: TaskSlot, to worker: WorkerID, into actions: inout [Action]) {
        let estimate = estimatedDuration(slot)
        tasks[slot].state = .processing
        tasks[slot].runner = workerNumbers.number(of: worker)!
        tasks[slot].occupancyEstimate = estimate
        workers[worker]!.processingSlots.insert(slot)
        workers[worker]!.occupancy += estimate
        updateIndexes(of: worker)
        var whoHas: [TaskKey: [String]] = [:]
        for dependency in tasks[slot].dependencies {
            whoHas[tasks.key(of: dependency)] = sortedHolders(of: dependency).compactMap { workers[$0]?.address }
        }
        actions.append(
            .compute(worker, Assignment(spec: tasks.spec(of: slot), priority: tasks[slot].priority, whoHas: whoHas)))
    }

    mutating func unassign(_ slot: TaskSlot, from worker: WorkerID) {
        tasks[slot].runner = TaskRecord.noWorker
        tasks[slot].hasStarted = false
        tasks[slot].stealingTo = nil
        workers[worker]?.longRunningSlots.remove(slot)
        if workers[worker]?.processingSlots.remove(slot) != nil {
            // Exactly what `assign` added, so estimates that change meanwhile leave no drift.
            workers[worker]!.occupancy = max(0, workers[worker]!.occupancy - tasks[slot].occupancyEstimate)
            updateIndexes(of: worker)
        }
    }

    mutating func addHolder(_ worker: WorkerID, of slot: TaskSlot) {
        guard tasks[slot].holders.insert(workerNumbers.number(of: worker)!).inserted else { return }
        workers[worker]!.heldSlots.insert(slot)
        workers[worker]!.managedBytes += tasks[slot].nbytes
    }

    mutating func removeHolder(_ worker: WorkerID, of slot: TaskSlot) {
        if let number = workerNumbers.number(of: worker) { tasks[slot].holders.remove(number) }
        if workers[worker]?.heldSlots.remove(slot) != nil {
            workers[worker]!.managedBytes -= tasks[slot].nbytes
        }
    }

    /// A worker freed a slot (or joined, or resumed): give it queued root tasks, then look for work
    /// to steal for it.
    mutating func workerHasCapacity(_ id: WorkerID, into actions: inout [Action]) {
        while let worker = workers[id], worker.status == .running, !isSaturated(worker) {
            guard let key = queue.pop() else { break }
            // Released or erred since?
            guard let slot = tasks.slot(of: key), tasks[slot].state == .queued else { continue }
            assign(slot, to: id, into: &actions)
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
        var best: TaskSlot?
        for slot in victim.processingSlots where !victim.longRunningSlots.contains(slot) {
            guard tasks[slot].stealingTo == nil,
                thief.isAllowed(by: tasks[slot].allowedWorkers)
            else { continue }
            if best == nil || tasks[best!].priority < tasks[slot].priority { best = slot }
        }
        guard let best else { return nil }
        return (victim.id, tasks.key(of: best))
    }

    /// A running task seceded: it stops counting against its worker's threads (its occupancy goes,
    /// so `unassign` later takes away nothing), is never stolen, and its thread is capacity again.
    mutating func taskSeceded(_ key: TaskKey, on worker: WorkerID, into actions: inout [Action]) {
        guard let slot = tasks.slot(of: key), tasks[slot].state == .processing, isRunning(slot, on: worker),
            workers[worker]?.longRunningSlots.insert(slot).inserted == true
        else { return }
        tasks[slot].hasStarted = true
        workers[worker]!.occupancy = max(0, workers[worker]!.occupancy - tasks[slot].occupancyEstimate)
        tasks[slot].occupancyEstimate = 0
        updateIndexes(of: worker)
        workerHasCapacity(worker, into: &actions)
    }

    mutating func stealAnswered(_ key: TaskKey, worker: WorkerID, started: Bool, into actions: inout [Action]) {
        // A steal is pending while its thief is known or, if the thief has left since, while the
        // victim's answer is awaited: a victim that dropped the task must not keep it on the books.
        guard let slot = tasks.slot(of: key), tasks[slot].state == .processing, isRunning(slot, on: worker),
            tasks[slot].stealingTo != nil || pendingSteals[key] != nil
        else {
            // A stale answer (from a worker the task has left) leaves a steal asked since pending.
            if tasks[key]?.stealingTo == nil { pendingSteals[key] = nil }
            return
        }
        let thief = tasks[slot].stealingTo
        pendingSteals[key] = nil
        tasks[slot].stealingTo = nil
        guard !started else { return }
        unassign(slot, from: worker)
        if let thief, let record = workers[thief], record.status == .running {
            assign(slot, to: thief, into: &actions)
        } else {
            makeReady(slot, into: &actions)
        }
        workerHasCapacity(worker, into: &actions)
    }
}
