public import DroverCore

/// When a worker spills results to disk and when it pauses, as fractions of its memory limit
/// (Dask's `distributed.worker.memory.target`, `.spill` and `.pause`).
///
/// - Above `target` × limit of results in memory: spill the least recently used until they fit.
/// - Above `spill` × limit of process memory (RSS): spill until the estimate, RSS minus what was
///   spilled, is at most `target` × limit, or nothing is left to spill.
/// - Above `pause` × limit of process memory: pause (start no new task); below it, run again.
///
/// A limit of 0 means no limit, and a fraction of 0 turns its step off. The fourth threshold,
/// terminating the worker at 0.95, is the nanny's.
public struct MemoryPolicy: Sendable, Hashable {
    /// The memory limit in bytes; 0 for none.
    public var limit: Int64
    public var targetFraction: Double
    public var spillFraction: Double
    public var pauseFraction: Double

    /// What to do now.
    public struct Decision: Sendable, Hashable {
        /// Keys to spill, least recently used first.
        public var spill: [TaskKey]
        /// Whether the worker should be paused.
        public var isPaused: Bool

        public init(spill: [TaskKey], isPaused: Bool) {
            self.spill = spill
            self.isPaused = isPaused
        }
    }

    /// Creates a policy; Dask's defaults are 0.60, 0.70 and 0.80.
    public init(limit: Int64, targetFraction: Double = 0.6, spillFraction: Double = 0.7, pauseFraction: Double = 0.8) {
        self.limit = max(0, limit)
        self.targetFraction = targetFraction
        self.spillFraction = spillFraction
        self.pauseFraction = pauseFraction
    }

    /// Whether there is a limit to enforce.
    public var isEnabled: Bool { limit > 0 }

    /// `fraction` of the limit in bytes.
    public func bytes(_ fraction: Double) -> Int64 { Int64((Double(limit) * fraction).rounded(.down)) }

    /// What to spill because of the results in memory alone (after storing a result).
    public func keysToSpill(_ ledger: MemoryLedger) -> [TaskKey] {
        guard isEnabled, targetFraction > 0 else { return [] }
        return ledger.keysToSpill(toReach: bytes(targetFraction))
    }

    /// Whether to hand the memory malloc keeps free back to the kernel before weighing the
    /// process: while paused, or above the spill threshold (the pause threshold when spilling is
    /// off). There part of the RSS may be results already spilled or released; without giving it
    /// back, a worker that spilled everything would still weigh as full and stay paused.
    public func shouldReleaseFreeMemory(residentBytes: Int64, isPaused: Bool) -> Bool {
        guard isEnabled else { return false }
        if isPaused { return true }
        guard let fraction = [spillFraction, pauseFraction].filter({ $0 > 0 }).min() else { return false }
        return residentBytes > bytes(fraction)
    }

    /// What to spill and whether to pause, given the process's resident memory.
    public func evaluate(_ ledger: MemoryLedger, residentBytes: Int64) -> Decision {
        guard isEnabled else { return Decision(spill: [], isPaused: false) }
        let managedTarget = targetFraction > 0 ? bytes(targetFraction) : Int64.max
        // As Dask: without a target, process memory is spilled down to the spill threshold.
        let residentTarget = bytes(targetFraction > 0 ? targetFraction : spillFraction)
        let isResidentOver = spillFraction > 0 && residentBytes > bytes(spillFraction)
        var keys: [TaskKey] = []
        var managed = ledger.managedBytes
        var spilled: Int64 = 0
        for (key, nbytes) in ledger.leastRecentlyUsed {
            let isManagedOver = managed > managedTarget
            let isStillResidentOver = isResidentOver && residentBytes - spilled > residentTarget
            guard isManagedOver || isStillResidentOver else { break }
            keys.append(key)
            managed -= nbytes
            spilled += nbytes
        }
        let isPaused = pauseFraction > 0 && residentBytes > bytes(pauseFraction)
        return Decision(spill: keys, isPaused: isPaused)
    }
}
