public import DroverCore

/// A semaphore the scheduler holds: its leases, who holds them, and who waits (oldest first).
public struct SemaphoreRecord: Sendable, Equatable {
    /// How many leases there are (set by the first acquire; at least 1).
    public var maxLeases: Int
    /// Leases held, by client.
    public var holders: [ClientID: Int] = [:]
    /// Requests waiting for a lease, oldest first.
    public var waiting: [Waiting] = []

    /// One request waiting for a lease.
    public struct Waiting: Sendable, Equatable {
        public var client: ClientID
        public var request: UInt64
    }

    /// Leases held in all.
    public var leased: Int { holders.values.reduce(0, +) }
}

// MARK: - Semaphores and locks (Dask's distributed.Semaphore and Lock)

extension SchedulerState {
    /// Granted at once when a lease is free, else when one is given back.
    mutating func acquire(
        _ name: String, maxLeases: Int, by client: ClientID, request: UInt64, into actions: inout [Action]
    ) {
        var semaphore = semaphores[name] ?? SemaphoreRecord(maxLeases: max(1, maxLeases))
        semaphore.waiting.append(.init(client: client, request: request))
        semaphores[name] = semaphore
        grantLeases(of: name, into: &actions)
    }

    /// One lease of `client`'s comes back (none: nothing happens) and goes to the oldest waiter.
    mutating func releaseLease(of name: String, by client: ClientID, into actions: inout [Action]) {
        guard let held = semaphores[name]?.holders[client], held > 0 else { return }
        semaphores[name]!.holders[client] = held == 1 ? nil : held - 1
        grantLeases(of: name, into: &actions)
    }

    /// A departed client's leases come back and its requests wait no more.
    mutating func giveBackLeases(of client: ClientID, into actions: inout [Action]) {
        for name in semaphores.keys.sorted() {
            semaphores[name]!.holders[client] = nil
            semaphores[name]!.waiting.removeAll { $0.client == client }
            grantLeases(of: name, into: &actions)
        }
    }

    private mutating func grantLeases(of name: String, into actions: inout [Action]) {
        guard var semaphore = semaphores[name] else { return }
        while semaphore.leased < semaphore.maxLeases, !semaphore.waiting.isEmpty {
            let next = semaphore.waiting.removeFirst()
            semaphore.holders[next.client, default: 0] += 1
            actions.append(.notify(next.client, .variable(request: next.request, name: name, Self.granted)))
        }
        semaphores[name] = semaphore.holders.isEmpty && semaphore.waiting.isEmpty ? nil : semaphore
    }

    /// The value a granted lease is answered with: `true`.
    // A Bool always encodes (a JSON literal); this keeps Foundation's Data out of the state code.
    static let granted = try! true.encodePayload()
    /// `false`, for an event asked about that is not set.
    static let notSet = try! false.encodePayload()
}
