public import DroverCore

// MARK: - Deadlines: silent workers and unanswered steals

extension SchedulerState {
    /// Whether a nanny at `nanny` may report the exit of the worker `id`: only the nanny the
    /// worker last registered under may (a report from anyone else is forged or confused).
    public func acceptsExitReport(for id: WorkerID, fromNanny nanny: String) -> Bool {
        !nanny.isEmpty && nannies[id] == nanny
    }

    mutating func clockTicked(into actions: inout [Action]) {
        defer { lastTick = now }
        if let ttl = configuration.workerTTL {
            if let lastTick, now - lastTick > ttl / 2 {
                // The scheduler itself did not run for a while (a huge submission, a stopped
                // process): the workers' silence is its own. Everyone starts a fresh TTL.
                for id in workers.keys { workers[id]!.lastHeard = max(workers[id]!.lastHeard, now) }
            } else {
                removeSilentWorkers(ttl: ttl, into: &actions)
            }
        }
        forceOverdueSteals(into: &actions)
        removeWorkersWithoutExitReport(into: &actions)
    }

    /// Workers whose nanny did not report why their stream broke within
    /// ``Configuration/exitReportGrace`` are removed with the connection's cause.
    private mutating func removeWorkersWithoutExitReport(into actions: inout [Action]) {
        guard !exitReportDeadlines.isEmpty else { return }
        let overdue = exitReportDeadlines.filter { now >= $0.value.deadline }.sorted { $0.key < $1.key }
        for (id, wait) in overdue {
            exitReportDeadlines[id] = nil
            guard workers[id]?.incarnation == wait.incarnation else { continue }
            let cause = "\(wait.cause); its nanny did not say why within \(configuration.exitReportGrace)"
            workerLeft(id, cause: cause, into: &actions)
        }
    }

    /// Removes every worker not heard from within `ttl`: what it ran goes elsewhere, what only it
    /// held is recomputed, its connection is ended and its nanny, if any, told to kill it.
    private mutating func removeSilentWorkers(ttl: Duration, into actions: inout [Action]) {
        let silent = workers.values.filter { now - $0.lastHeard > ttl }.sorted { $0.id < $1.id }
        for worker in silent {
            let silence = ((now - worker.lastHeard).inSeconds * 10).rounded() / 10
            let reason =
                "it was not heard from for \(silence) s (worker TTL \(ttl.inSeconds) s): removed as unresponsive"
            workerLeft(worker.id, cause: reason, into: &actions)
            actions.append(.disconnect(worker.id, reason: reason))
            if !worker.nanny.isEmpty {
                actions.append(.killWorker(worker.id, address: worker.address, nanny: worker.nanny, reason: reason))
            }
        }
    }

    /// A victim that has not answered a steal in time is not waited for: it is told to drop the
    /// task (unless it said it started it), and the task goes to the thief.
    private mutating func forceOverdueSteals(into actions: inout [Action]) {
        let overdue = pendingSteals.filter { now - $0.value > configuration.stealTimeout }.keys.sorted()
        for key in overdue {
            // Its thief may have left meanwhile: the victim is still told to drop it, and the
            // task goes where it can start soonest.
            guard let slot = tasks.slot(of: key), tasks[slot].state == .processing, let victim = runner(of: slot) else {
                pendingSteals[key] = nil
                continue
            }
            let started = tasks[slot].hasStarted
            if !started { actions.append(.free(victim, [key])) }
            stealAnswered(key, worker: victim, started: started, into: &actions)
        }
    }
}
