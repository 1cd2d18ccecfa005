import DroverCore

/// A client's request that may be waiting (for a variable, a queue value, a lease or an event).
struct WaitingRequest: Hashable, Sendable {
    var client: ClientID
    var request: UInt64
}

// MARK: - Timeouts on waits (Dask's timeout= on get, acquire and wait)

extension SchedulerState {
    /// Remembers when a request gives up. A request answered at once has nothing to wait for; a
    /// deadline left behind is dropped when it passes.
    mutating func setDeadline(_ timeout: Duration?, for client: ClientID, request: UInt64) {
        guard let timeout, isWaiting(client: client, request: request) else { return }
        waitDeadlines[WaitingRequest(client: client, request: request)] = now + max(timeout, .zero)
    }

    /// Every request whose deadline has passed and that still waits leaves its waiting list and
    /// is answered `timedOut`: it takes no value, lease or event later.
    mutating func expireWaits(into actions: inout [Action]) {
        let expired = waitDeadlines.filter { $0.value <= now }.keys.sorted {
            ($0.client.rawValue, $0.request) < ($1.client.rawValue, $1.request)
        }
        for waiting in expired {
            waitDeadlines[waiting] = nil
            if let name = removeWaiting(client: waiting.client, request: waiting.request) {
                actions.append(.notify(waiting.client, .timedOut(request: waiting.request, name: name)))
            }
        }
    }

    /// A departed client's deadlines go with its requests.
    mutating func forgetDeadlines(of client: ClientID) {
        for waiting in waitDeadlines.keys where waiting.client == client { waitDeadlines[waiting] = nil }
    }

    private func isWaiting(client: ClientID, request: UInt64) -> Bool {
        func matches(_ entry: (client: ClientID, request: UInt64)) -> Bool {
            entry.client == client && entry.request == request
        }
        return variableRequests.values.contains { $0.contains(where: matches) }
            || queueRequests.values.contains { $0.contains(where: matches) }
            || eventWaiters.values.contains { $0.contains(where: matches) }
            || semaphores.values.contains { $0.waiting.contains { $0.client == client && $0.request == request } }
    }

    /// Takes the request off whichever list it waits on; returns the name it waited for.
    private mutating func removeWaiting(client: ClientID, request: UInt64) -> String? {
        func matches(_ entry: (client: ClientID, request: UInt64)) -> Bool {
            entry.client == client && entry.request == request
        }
        for lists in [\SchedulerState.variableRequests, \.queueRequests, \.eventWaiters] {
            guard let name = self[keyPath: lists].first(where: { $0.value.contains(where: matches) })?.key else {
                continue
            }
            self[keyPath: lists][name]!.removeAll(where: matches)
            if self[keyPath: lists][name]!.isEmpty { self[keyPath: lists][name] = nil }
            return name
        }
        guard
            let name = semaphores.first(where: {
                $0.value.waiting.contains { $0.client == client && $0.request == request }
            })?.key
        else { return nil }
        semaphores[name]!.waiting.removeAll { $0.client == client && $0.request == request }
        if semaphores[name]!.holders.isEmpty && semaphores[name]!.waiting.isEmpty { semaphores[name] = nil }
        return name
    }
}
