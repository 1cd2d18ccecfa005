import DroverProto

extension Nanny {
    /// A one-line account of the workers for the service manager's `STATUS=`, e.g.
    /// "2 of 2 workers running, 1 restart (host-1: OOM-killed …)".
    ///
    /// Names the cause of the worker restarted most often (the first such worker on a tie).
    ///
    /// - Returns: The summary line.
    public func summary() -> String {
        let workers = status().workers
        let running = workers.count { $0.pid > 0 }
        let restarts = workers.reduce(0) { $0 + Int($1.restarts) }
        var line =
            "\(running) of \(workers.count) worker\(workers.count == 1 ? "" : "s") running, "
            + "\(restarts) restart\(restarts == 1 ? "" : "s")"
        if let worst = workers.max(by: { $0.restarts < $1.restarts }), worst.restarts > 0 {
            line += " (\(worst.name): \(worst.lastCause))"
        }
        return line
    }
}
