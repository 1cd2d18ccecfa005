import DroverCore

// MARK: - Copies the scheduler asks for

extension WorkerState {
    /// The scheduler wants copies of these keys here (another worker is retiring): fetch each from
    /// its holders like an input and keep it as a result the scheduler tracks.
    ///
    /// A key already here is reported at once; a key this worker computes is reported when done
    /// (as `reportFinished`); a key no holder can give is not reported at all.
    mutating func replicateRequested(_ holders: [TaskKey: [String]], into actions: inout [Action]) {
        var toFetch: [String: [TaskKey]] = [:]
        for (key, addresses) in holders.sorted(by: { $0.key < $1.key }) {
            let peers = addresses.filter { $0 != address }
            guard var record = records[key] else {
                guard let peer = peers.first else { continue }
                var record = Record(state: .flight, holders: peers, isAssigned: true)
                record.isReplicaRequested = true
                records[key] = record
                toFetch[peer, default: []].append(key)
                continue
            }
            switch record.state {
            case .memory:
                record.isAssigned = true
                records[key] = record
                actions.append(.reportAcquired(key, nbytes: record.nbytes))
            case .fetch, .flight:
                // An input on its way (or one nobody could give so far): it is a result now.
                record.isAssigned = true
                record.isReplicaRequested = true
                record.holders += peers.filter { !record.holders.contains($0) }
                if record.state == .fetch, let peer = record.holders.first {
                    record.state = .flight
                    toFetch[peer, default: []].append(key)
                }
                records[key] = record
            case .waiting, .ready, .executing:
                break  // computed here: its finished report tells the scheduler
            }
        }
        for (peer, keys) in toFetch.sorted(by: { $0.key < $1.key }) { actions.append(.fetch(keys, from: peer)) }
    }

    /// `key` arrived here: report it if the scheduler asked for a copy.
    mutating func acquired(_ key: TaskKey, into actions: inout [Action]) {
        guard let record = records[key], record.isReplicaRequested else { return }
        records[key]!.isReplicaRequested = false
        actions.append(.reportAcquired(key, nbytes: record.nbytes))
    }
}
