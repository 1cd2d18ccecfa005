import DroverCore

/// Why a worker process ended, as the nanny tells the operator and the scheduler.
public enum ExitCause: Sendable, Hashable, CustomStringConvertible {
    /// The worker exited by itself with this code.
    case exited(code: Int32)
    /// A signal killed the worker, and its cgroup did not record an OOM kill.
    case signaled(Int32)
    /// The kernel's OOM killer ended the worker at its cgroup's memory limit.
    case oomKilled(limit: Int64, peak: Int64?)
    /// Without a cgroup, the nanny polled the worker's RSS and terminated it at ``terminateFraction`` of its limit.
    case terminatedByNanny(rss: Int64, limit: Int64)

    /// The fraction of its limit at which the nanny terminates a worker when it can only poll its RSS
    /// (Dask's `distributed.worker.memory.terminate`).
    public static let terminateFraction = 0.95

    /// Says why a worker ended from its wait status and its cgroup's OOM-kill counter.
    ///
    /// A rise in the counter means the kernel killed the worker for memory, even though the status only says
    /// SIGKILL.
    ///
    /// - Parameters:
    ///   - status: The raw status from `waitpid`.
    ///   - oomKillsBefore: The cgroup's OOM-kill count when the worker started (0 without a cgroup).
    ///   - oomKillsAfter: The count after the worker ended.
    ///   - limit: The cgroup's memory limit in bytes.
    ///   - peak: The cgroup's peak usage in bytes, if the kernel reports it.
    /// - Returns: The cause.
    public static func classify(
        status: Int32,
        oomKillsBefore: Int,
        oomKillsAfter: Int,
        limit: Int64,
        peak: Int64?
    ) -> ExitCause {
        if oomKillsAfter > oomKillsBefore {
            return .oomKilled(limit: limit, peak: peak)
        }
        switch ExitStatus(waitStatus: status) {
        case .exited(let code): return .exited(code: code)
        case .signaled(let signal): return .signaled(signal)
        }
    }

    /// "exited with code 1", "killed by signal 9 (SIGKILL)", "OOM-killed at its 300 MiB limit (peak 300 MiB)",
    /// "terminated by its nanny at 95% of its 300 MiB limit (RSS 290 MiB)".
    public var description: String {
        switch self {
        case .exited(let code):
            return ExitStatus.exited(code: code).description
        case .signaled(let signal):
            return ExitStatus.signaled(signal).description
        case .oomKilled(let limit, let peak):
            let peakText = peak.map { " (peak \(MemorySize.format($0)))" } ?? ""
            return "OOM-killed at its \(MemorySize.format(limit)) limit\(peakText)"
        case .terminatedByNanny(let rss, let limit):
            let percent = Int((Self.terminateFraction * 100).rounded())
            return "terminated by its nanny at \(percent)% of its \(MemorySize.format(limit)) limit "
                + "(RSS \(MemorySize.format(rss)))"
        }
    }
}
