import DroverCore

// MARK: - Restart (Dask's client.restart)

extension SchedulerState {
    /// Every client hears that each key it wants erred, every task is released (results freed,
    /// running tasks cancelled, then forgotten), and each worker with a nanny is killed by it, which
    /// starts a fresh one; their exits then find nothing to reschedule.
    mutating func restart(requestedBy requester: ClientID, into actions: inout [Action]) {
        for client in clientWants.keys.sorted(by: { $0.rawValue < $1.rawValue }) {
            let keys = sortedByKey(clientWants[client] ?? []).map { tasks.key(of: $0) }
            for key in keys {
                let error = TaskError(
                    kind: .workerDied, key: key, function: tasks[key]?.function ?? "",
                    message: "the cluster was restarted (client.restart() by \(requester)) before it finished; "
                        + "submit it again")
                actions.append(.notify(client, .erred(key, error)))
            }
            release(keys, by: client, into: &actions)
        }
        for worker in workers.values.sorted(by: { $0.id.rawValue < $1.id.rawValue }) where !worker.nanny.isEmpty {
            actions.append(
                .killWorker(
                    worker.id, address: worker.address, nanny: worker.nanny,
                    reason: "restart requested by client \(requester)"))
        }
    }
}
