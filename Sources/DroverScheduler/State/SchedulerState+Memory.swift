public import DroverCore

// MARK: - What the state keeps, in bytes

extension SchedulerState {
    /// The bytes the state's per-task structures take (their capacity, not only what is used),
    /// largest first: what a held task costs, structure by structure, before malloc's own
    /// overhead. Counts the buffers' room; a `Set`'s is estimated from its capacity (4 bytes and a
    /// bit per bucket, buckets at most three quarters full).
    public var memoryAccount: [(structure: String, bytes: Int)] {
        var account: [(structure: String, bytes: Int)] = []
        account += tasks.memoryAccount
        var arenas: Set<ObjectIdentifier> = []
        var arenaBytes = 0
        var rareBoxes = 0
        for (_, record) in tasks.occupied {
            if let (identity, bytes) = record.arguments.arenaFootprint, arenas.insert(identity).inserted {
                arenaBytes += bytes
            }
            if record.hasRareFields { rareBoxes += 1 }
        }
        account.append(("argument arenas (\(arenas.count))", arenaBytes))
        account.append(("boxes of rare fields (\(rareBoxes))", rareBoxes * TaskRecord.rareBoxBytes))
        func setBytes(_ capacity: Int) -> Int {
            capacity == 0 ? 0 : (capacity * 4 / 3).nextPowerOfTwo * 33 / 8
        }
        account.append(("workers' held sets", workers.values.reduce(0) { $0 + setBytes($1.heldSlots.capacity) }))
        account.append(
            (
                "workers' processing sets",
                workers.values.reduce(0) {
                    $0 + setBytes($1.processingSlots.capacity) + setBytes($1.longRunningSlots.capacity)
                }
            ))
        account.append(("clients' wanted sets", clientWants.values.reduce(0) { $0 + setBytes($1.capacity) }))
        return account.sorted { $0.bytes > $1.bytes }
    }
}

extension Int {
    /// The least power of two at least this (1 for 0).
    fileprivate var nextPowerOfTwo: Int {
        self <= 1 ? 1 : 1 << (Int.bitWidth - (self - 1).leadingZeroBitCount)
    }
}
