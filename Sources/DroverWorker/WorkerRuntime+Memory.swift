import DroverCore
import DroverLocal
import Logging

// MARK: - Memory: spilling and pausing

extension WorkerRuntime {
    /// Dask's memory monitor: every 100 ms, weighs the process and spills or pauses as
    /// ``MemoryPolicy`` says. Returns at once when there is no memory limit.
    func monitorMemory() async {
        guard policy.isEnabled else { return }
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(100))
            checkMemory()
        }
    }

    func checkMemory() {
        guard var resident = processMemory() else {
            spillForManagedBytes()
            return
        }
        // As Dask's nanny makes glibc do with MALLOC_TRIM_THRESHOLD_.
        if policy.shouldReleaseFreeMemory(residentBytes: resident, isPaused: state.isPaused) {
            ProcessMemory.releaseFreeMemory()
            resident = processMemory() ?? resident
        }
        let decision = policy.evaluate(store.ledger, residentBytes: resident)
        spill(decision.spill)
        guard decision.isPaused != state.isPaused else { return }
        let (used, limit) = (Self.mebibytes(resident), Self.mebibytes(policy.limit))
        let percent = Int((policy.pauseFraction * 100).rounded())
        let metadata: Logger.Metadata = [
            "memory.resident": "\(resident)", "memory.limit": "\(policy.limit)",
            "memory.managed": "\(store.managedBytes)", "memory.spilled": "\(store.spilledBytes)",
        ]
        if decision.isPaused {
            logger.info(
                "paused: process memory \(used) MiB is above \(percent)% of the \(limit) MiB limit",
                metadata: metadata)
        } else {
            logger.info(
                "resumed: process memory \(used) MiB is below \(percent)% of the \(limit) MiB limit",
                metadata: metadata)
        }
        handle([.pauseChanged(decision.isPaused)])
        sendHeartbeat(residentBytes: resident)
    }

    /// The memory this worker answers for: its resident set without shared-memory mappings (a
    /// peer's segment mapped here is the peer's), plus its own segments in full (charged to this
    /// process's cgroup whether or not it maps their pages now).
    func processMemory() -> Int64? {
        guard let resident = ProcessMemory.residentBytes() else { return nil }
        guard store.segmentServer != nil else { return resident }
        let mapped = ProcessMemory.residentSharedBytes() ?? 0
        return max(0, resident - mapped) + store.sharedBytes
    }

    /// Spills least recently used results while those in memory are above the target.
    func spillForManagedBytes() {
        spill(policy.keysToSpill(store.ledger))
    }

    private func spill(_ keys: [TaskKey]) {
        guard !keys.isEmpty else { return }
        let outcome = store.spill(keys)
        if outcome.count > 0 {
            logger.debug(
                "spilled results to disk",
                metadata: [
                    "task.count": "\(outcome.count)", "spill.bytes": "\(outcome.bytes)",
                    "memory.managed": "\(store.managedBytes)", "memory.spilled": "\(store.spilledBytes)",
                ])
        }
        guard let failure = outcome.failure else {
            if outcome.count > 0 { isSpillFailing = false }
            return
        }
        let metadata: Logger.Metadata = [
            "task.key": "\(failure.key)", "error": "\(failure.error)", "spill.directory": "\(store.directoryPath)",
        ]
        // Disk full stays full for a while: say it once, then quietly until a spill works again.
        let level: Logger.Level = isSpillFailing ? .debug : .error
        logger.log(level: level, "could not spill a result to disk; keeping it in memory", metadata: metadata)
        isSpillFailing = true
    }

    private static func mebibytes(_ bytes: Int64) -> Int64 { (bytes + 524_288) / 1_048_576 }
}
