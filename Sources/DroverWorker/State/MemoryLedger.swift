public import DroverCore

/// Where each stored result of a worker is, in memory or spilled to disk, and what it weighs.
///
/// Results in memory are kept in least-recently-used order (a doubly linked list threaded through
/// a dictionary, so every operation is O(1)), and the byte totals are kept as they change, so
/// nothing sums over all keys. The ledger only counts: the store does the IO and tells the ledger
/// what it did. Dask's `SpillBuffer`, without the buffer.
public struct MemoryLedger: Sendable {
    /// Where a result is.
    public enum Location: Sendable, Hashable {
        case memory
        case disk
    }

    private struct Entry: Sendable {
        var nbytes: Int64
        var location: Location
        /// Neighbours in the in-memory list; nil on disk.
        var older: TaskKey?
        var newer: TaskKey?
    }

    private var entries: [TaskKey: Entry] = [:]
    private var oldest: TaskKey?
    private var newest: TaskKey?
    /// Bytes of the results held in memory.
    public private(set) var managedBytes: Int64 = 0
    /// Bytes of the results spilled to disk.
    public private(set) var spilledBytes: Int64 = 0
    /// How many results are spilled to disk.
    public private(set) var spilledCount = 0

    /// Creates an empty ledger.
    public init() {}

    /// How many results are here, in memory or on disk.
    public var count: Int { entries.count }

    /// Where `key` is, or nil when it is not here.
    public func location(of key: TaskKey) -> Location? { entries[key]?.location }

    /// The size of `key`, or nil when it is not here.
    public func nbytes(of key: TaskKey) -> Int64? { entries[key]?.nbytes }

    /// The results in memory, least recently used first.
    public var leastRecentlyUsed: LeastRecentlyUsed { LeastRecentlyUsed(ledger: self) }
}

// MARK: - Changes

extension MemoryLedger {
    /// Records `key` as held in memory and just used, replacing any earlier entry for it.
    public mutating func insert(_ key: TaskKey, nbytes: Int64) {
        remove(key)
        entries[key] = Entry(nbytes: nbytes, location: .memory)
        managedBytes += nbytes
        link(key)
    }

    /// Marks `key` as just used; nothing happens to a key on disk or not here.
    public mutating func touch(_ key: TaskKey) {
        guard entries[key]?.location == .memory, newest != key else { return }
        unlink(key)
        link(key)
    }

    /// Forgets `key`.
    ///
    /// - Returns: Where it was, or nil when it was not here.
    @discardableResult
    public mutating func remove(_ key: TaskKey) -> Location? {
        guard let entry = entries[key] else { return nil }
        switch entry.location {
        case .memory:
            unlink(key)
            managedBytes -= entry.nbytes
        case .disk:
            spilledBytes -= entry.nbytes
            spilledCount -= 1
        }
        entries[key] = nil
        return entry.location
    }

    /// Records that `key`, in memory, is now on disk only.
    public mutating func markSpilled(_ key: TaskKey) {
        guard let entry = entries[key], entry.location == .memory else { return }
        unlink(key)
        entries[key]!.location = .disk
        managedBytes -= entry.nbytes
        spilledBytes += entry.nbytes
        spilledCount += 1
    }

    /// Records that `key`, on disk, is back in memory and just used.
    public mutating func markLoaded(_ key: TaskKey) {
        guard let entry = entries[key], entry.location == .disk else { return }
        entries[key]!.location = .memory
        spilledBytes -= entry.nbytes
        spilledCount -= 1
        managedBytes += entry.nbytes
        link(key)
    }

    /// Forgets everything.
    public mutating func removeAll() {
        self = MemoryLedger()
    }

    /// Appends `key` (in `entries`, not linked) as the newest.
    private mutating func link(_ key: TaskKey) {
        entries[key]!.older = newest
        entries[key]!.newer = nil
        if let newest { entries[newest]!.newer = key } else { oldest = key }
        newest = key
    }

    private mutating func unlink(_ key: TaskKey) {
        let entry = entries[key]!
        if let older = entry.older { entries[older]!.newer = entry.newer } else { oldest = entry.newer }
        if let newer = entry.newer { entries[newer]!.older = entry.older } else { newest = entry.older }
        entries[key]!.older = nil
        entries[key]!.newer = nil
    }
}

// MARK: - Least recently used

extension MemoryLedger {
    /// The results in memory with their sizes, least recently used first.
    public struct LeastRecentlyUsed: Sequence, IteratorProtocol, Sendable {
        private let entries: [TaskKey: Entry]
        private var cursor: TaskKey?

        fileprivate init(ledger: MemoryLedger) {
            entries = ledger.entries
            cursor = ledger.oldest
        }

        public mutating func next() -> (key: TaskKey, nbytes: Int64)? {
            guard let key = cursor, let entry = entries[key] else { return nil }
            cursor = entry.newer
            return (key, entry.nbytes)
        }
    }

    /// The least recently used keys in memory to spill so that at most `target` bytes stay in memory.
    public func keysToSpill(toReach target: Int64) -> [TaskKey] {
        var keys: [TaskKey] = []
        var managed = managedBytes
        for (key, nbytes) in leastRecentlyUsed {
            guard managed > target else { break }
            keys.append(key)
            managed -= nbytes
        }
        return keys
    }
}

// MARK: - Invariants

extension MemoryLedger {
    /// Checks the list and the totals against the entries (O(n): for tests).
    public func checkInvariants() throws(InvariantViolation) {
        var listed = 0
        var managed: Int64 = 0
        var previous: TaskKey?
        for (key, nbytes) in leastRecentlyUsed {
            guard let entry = entries[key], entry.location == .memory, entry.older == previous else {
                throw InvariantViolation("'\(key)' is listed in memory out of order or is on disk")
            }
            listed += 1
            managed += nbytes
            previous = key
            guard listed <= entries.count else { throw InvariantViolation("the in-memory list has a cycle") }
        }
        guard previous == newest else { throw InvariantViolation("the in-memory list ends before its newest key") }
        let onDisk = entries.values.filter { $0.location == .disk }
        guard listed + onDisk.count == entries.count else {
            throw InvariantViolation("\(entries.count - listed - onDisk.count) keys in memory are not listed")
        }
        let spilled = onDisk.reduce(Int64(0)) { $0 + $1.nbytes }
        guard managed == managedBytes, spilled == spilledBytes, onDisk.count == spilledCount else {
            throw InvariantViolation(
                "totals \(managedBytes) in memory, \(spilledBytes) in \(spilledCount) spilled; "
                    + "entries say \(managed), \(spilled) in \(onDisk.count)")
        }
    }
}
