import DroverCore

/// A worker's results: in memory in least-recently-used order, or spilled to files.
///
/// ``MemoryLedger`` keeps the order and the totals; ``SpillDirectory`` does the IO. A value read
/// as a task input comes back into memory (``load(_:)``); one served to a peer or a client is read
/// from disk and left there (``peek(_:)``).
struct DataStore {
    private var values: [TaskKey: Payload] = [:]
    private(set) var ledger = MemoryLedger()
    private var directory: SpillDirectory

    /// What one call to ``spill(_:)`` did.
    struct SpillOutcome {
        var count = 0
        var bytes: Int64 = 0
        /// The key that could not be written, kept in memory, and why; spilling stopped there.
        var failure: (key: TaskKey, error: any Error)?
    }

    init(directory: SpillDirectory) {
        self.directory = directory
    }

    /// Bytes of the results in memory.
    var managedBytes: Int64 { ledger.managedBytes }
    /// Bytes of the results on disk.
    var spilledBytes: Int64 { ledger.spilledBytes }
    /// The spill directory's path.
    var directoryPath: String { directory.path }

    func contains(_ key: TaskKey) -> Bool { ledger.location(of: key) != nil }

    /// Stores `payload` as `key`'s value, in memory and just used.
    mutating func put(_ key: TaskKey, _ payload: Payload) {
        remove(key)
        values[key] = payload
        ledger.insert(key, nbytes: Int64(payload.data.count))
    }

    /// The value of `key` for a task to use: marked as just used, and read back into memory if spilled.
    ///
    /// - Throws: The file system's error when the spilled value cannot be read (it stays on disk).
    mutating func load(_ key: TaskKey) throws -> Payload? {
        if let payload = values[key] {
            ledger.touch(key)
            return payload
        }
        guard ledger.location(of: key) == .disk else { return nil }
        let payload = try directory.read(key)
        directory.remove(key)
        values[key] = payload
        ledger.markLoaded(key)
        return payload
    }

    /// The value of `key` to send elsewhere, read from disk if spilled, moving nothing.
    ///
    /// - Throws: The file system's error when the spilled value cannot be read.
    func peek(_ key: TaskKey) throws -> Payload? {
        if let payload = values[key] { return payload }
        guard ledger.location(of: key) == .disk else { return nil }
        return try directory.read(key)
    }

    /// The type name of `key`'s value, without reading a spilled one.
    func typeName(of key: TaskKey) -> String? {
        values[key]?.typeName ?? directory.typeName(of: key)
    }

    /// Forgets `key`, deleting its file if it was spilled.
    mutating func remove(_ key: TaskKey) {
        switch ledger.remove(key) {
        case .memory: values[key] = nil
        case .disk: directory.remove(key)
        case nil: break
        }
    }

    /// Writes these values (in memory) to disk and drops them from memory, in order.
    ///
    /// A value that cannot be written stays in memory, marked as just used so the next round
    /// tries others first, and this round stops (the next write would most likely fail too).
    mutating func spill(_ keys: [TaskKey]) -> SpillOutcome {
        var outcome = SpillOutcome()
        for key in keys {
            guard let payload = values[key] else { continue }
            do {
                try directory.write(payload, for: key)
            } catch {
                ledger.touch(key)
                outcome.failure = (key, error)
                break
            }
            values[key] = nil
            ledger.markSpilled(key)
            outcome.count += 1
            outcome.bytes += Int64(payload.data.count)
        }
        return outcome
    }

    /// Forgets every value and deletes the spill directory.
    mutating func removeAll() {
        values = [:]
        ledger.removeAll()
        directory.removeAll()
    }
}
