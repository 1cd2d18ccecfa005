import DroverCore
import DroverLocal
import Logging
import Synchronization

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
            // No reading of the process: keep the results in memory at the target at least.
            core.withLock { $0.spill(policy.keysToSpill($0.store.ledger), logger: logger) }
            return
        }
        // As Dask's nanny makes glibc do with MALLOC_TRIM_THRESHOLD_.
        let isPaused = core.withLock { $0.state.isPaused }
        if policy.shouldReleaseFreeMemory(residentBytes: resident, isPaused: isPaused) {
            ProcessMemory.releaseFreeMemory()
            resident = processMemory() ?? resident
        }
        let change = core.withLock { core -> (paused: Bool, metadata: Logger.Metadata)? in
            let decision = policy.evaluate(core.store.ledger, residentBytes: resident)
            core.spill(decision.spill, logger: logger)
            guard decision.isPaused != core.state.isPaused else { return nil }
            return (
                decision.isPaused,
                [
                    "memory.resident": "\(resident)", "memory.limit": "\(policy.limit)",
                    "memory.managed": "\(core.store.managedBytes)", "memory.spilled": "\(core.store.spilledBytes)",
                ]
            )
        }
        guard let change else { return }
        let (used, limit) = (Self.mebibytes(resident), Self.mebibytes(policy.limit))
        let percent = Int((policy.pauseFraction * 100).rounded())
        if change.paused {
            logger.info(
                "paused: process memory \(used) MiB is above \(percent)% of the \(limit) MiB limit",
                metadata: change.metadata)
        } else {
            logger.info(
                "resumed: process memory \(used) MiB is below \(percent)% of the \(limit) MiB limit",
                metadata: change.metadata)
        }
        handle([.pauseChanged(change.paused)])
        sendHeartbeat(residentBytes: resident)
    }

    /// The memory this worker answers for: its resident set without shared-memory mappings (a
    /// peer's segment mapped here is the peer's), plus its own segments in full (charged to this
    /// process's cgroup whether or not it maps their pages now).
    func processMemory() -> Int64? {
        guard let resident = ProcessMemory.residentBytes() else { return nil }
        guard sharesMemory else { return resident }
        let mapped = ProcessMemory.residentSharedBytes() ?? 0
        return max(0, resident - mapped) + core.withLock { $0.store.sharedBytes }
    }

    private static func mebibytes(_ bytes: Int64) -> Int64 { (bytes + 524_288) / 1_048_576 }
}
