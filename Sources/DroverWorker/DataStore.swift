import DroverCore

/// A worker's results: in memory in least-recently-used order, or spilled to files.
///
/// ``MemoryLedger`` keeps the order and the totals; ``SpillDirectory`` does the IO. A value read
/// as a task input comes back into memory (``load(_:)``); one served to a peer or a client is read
/// from disk and left there (``peek(_:)``).
///
/// Shared memory (see the README's memory model): a large result of this worker's own tasks lives
/// in a ``SharedSegment`` offered to workers of this host through ``SegmentServer``; it counts in
/// the managed bytes like any result, because its pages are this process's (and its cgroup's).
/// A value *borrowed* from a peer's segment is a read-only mapping of the peer's pages: it is held
/// in the ledger with 0 bytes (the peer counts them), is never spilled (writing it to disk would
/// free nothing of ours), and is unmapped when forgotten.
struct DataStore {
    private var values: [TaskKey: Payload] = [:]
    private(set) var ledger = MemoryLedger()
    private var directory: SpillDirectory
    /// This worker's segments, by key: their numbers on the segment server, and lengths.
    private var segments: [TaskKey: (number: UInt64, length: Int64)] = [:]
    /// Values mapped from a peer's segment, with their lengths.
    private var borrowed: [TaskKey: Int64] = [:]
    /// Offers segments to peers; nil when shared memory is off.
    let segmentServer: SegmentServer?
    /// Bytes of this worker's own segments (resident: they were written when made).
    private(set) var sharedBytes: Int64 = 0
    /// Bytes of values mapped from peers' segments (charged to them, not to this worker).
    private(set) var borrowedBytes: Int64 = 0

    /// What one call to ``spill(_:)`` did.
    struct SpillOutcome {
        var count = 0
        var bytes: Int64 = 0
        /// The key that could not be written, kept in memory, and why; spilling stopped there.
        var failure: (key: TaskKey, error: any Error)?
    }

    init(directory: SpillDirectory, segmentServer: SegmentServer? = nil) {
        self.directory = directory
        self.segmentServer = segmentServer
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

    /// Stores `payload`, whose bytes are `segment`'s, as `key`'s value and offers the segment to peers.
    mutating func put(_ key: TaskKey, _ payload: Payload, segment: SharedSegment) {
        put(key, payload)
        guard let segmentServer else { return }
        segments[key] = (segmentServer.register(segment), Int64(segment.length))
        sharedBytes += Int64(segment.length)
    }

    /// Stores a value mapped from a peer's segment: held, but not counted as this worker's memory.
    mutating func putBorrowed(_ key: TaskKey, _ payload: Payload) {
        remove(key)
        values[key] = payload
        ledger.insert(key, nbytes: 0)
        borrowed[key] = Int64(payload.data.count)
        borrowedBytes += Int64(payload.data.count)
    }

    /// The segment number peers ask for `key` by, when its value is in one of this worker's segments.
    func segmentNumber(of key: TaskKey) -> UInt64? { segments[key]?.number }

    /// Withdraws `key`'s segment or mapping, if any; the value's pages go once no mapping holds them.
    private mutating func forgetSharing(_ key: TaskKey) {
        if let segment = segments.removeValue(forKey: key) {
            segmentServer?.unregister(segment.number)
            sharedBytes -= segment.length
        }
        if let length = borrowed.removeValue(forKey: key) { borrowedBytes -= length }
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
        forgetSharing(key)
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
            guard let payload = values[key], borrowed[key] == nil else { continue }
            do {
                try directory.write(payload, for: key)
            } catch {
                ledger.touch(key)
                outcome.failure = (key, error)
                break
            }
            values[key] = nil
            forgetSharing(key)
            ledger.markSpilled(key)
            outcome.count += 1
            outcome.bytes += Int64(payload.data.count)
        }
        return outcome
    }

    /// Forgets every value and deletes the spill directory.
    mutating func removeAll() {
        for key in Array(segments.keys) + Array(borrowed.keys) { forgetSharing(key) }
        values = [:]
        ledger.removeAll()
        directory.removeAll()
    }
}
