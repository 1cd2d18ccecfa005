import DroverCore

// MARK: - Shutdown (Dask's client.shutdown)

extension SchedulerState {
    /// Each nanny is asked to stop (its workers retire and it exits), each worker without one is
    /// closed, then the scheduler stops.
    mutating func shutdown(requestedBy client: ClientID, into actions: inout [Action]) {
        let reason = "shutdown requested by client \(client)"
        var nannies: Set<String> = []
        for worker in workers.values.sorted(by: { $0.id.rawValue < $1.id.rawValue }) {
            if worker.nanny.isEmpty {
                actions.append(.close(worker.id, reason: reason))
            } else if nannies.insert(worker.nanny).inserted {
                actions.append(.stopNanny(worker.nanny, reason: reason))
            }
        }
        actions.append(.stopScheduler(reason: reason))
    }
}
