extension SchedulerService {
    /// A one-line account of the cluster for the service manager's `STATUS=`, e.g.
    /// "4 workers (8 threads), 1,203 tasks processing, 2 clients".
    ///
    /// Costs one pass over the workers. Awaiting it also proves the actor is not wedged, which is
    /// what the watchdog ping that follows it claims.
    ///
    /// - Returns: The summary line.
    public func summary() -> String {
        var threads = 0
        var processing = 0
        for worker in state.workers.values {
            threads += worker.threads
            processing += worker.processingCount
        }
        return "\(counted(state.workers.count, "worker")) (\(counted(threads, "thread"))), "
            + "\(counted(processing, "task")) processing, \(counted(state.clientCount, "client"))"
    }
}

/// "1 worker", "1,203 tasks".
private func counted(_ count: Int, _ noun: String) -> String {
    var digits = String(count.magnitude)
    var index = digits.endIndex
    while digits.distance(from: digits.startIndex, to: index) > 3 {
        index = digits.index(index, offsetBy: -3)
        digits.insert(",", at: index)
    }
    return (count < 0 ? "-" : "") + digits + " " + noun + (count == 1 ? "" : "s")
}
