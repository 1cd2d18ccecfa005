import DroverCore

/// Everything the client keeps per key, in one table: its futures' reference count, where it
/// stands, the tasks waiting for it (`result()`, `gather`) and the streams watching it
/// (`wait`, `asCompleted`, progress).
///
/// Four dictionaries of `TaskKey`s (references, states, waiters, watchers) cost four look-ups of
/// the key, each likely a cache miss, on every update, release and result; here each is one.
/// An entry lives while any of its parts does. `Waiter` is what a waiting task is resumed through
/// (a continuation in the client; anything in tests).
struct KeyTable<Waiter> {
    /// One key's part of the client's state.
    struct Entry {
        /// Futures of the key alive in this client (none: the key is released).
        var references = 0
        /// Where the key stands, as the scheduler last said (or the client decided, for `cancelled`).
        var known: Client.KeyState?
        /// Tasks waiting for news of the key, by a number of their own (so a cancelled one can leave).
        var waiters: [Int: Waiter] = [:]
        /// The numbers of the completion streams watching the key.
        var watchers: [Int] = []

        /// A future of the key was made. A cancelled key that had no future left starts afresh.
        mutating func retain() {
            if references == 0, case .cancelled = known { known = nil }
            references += 1
        }

        /// Whether nothing is left of it, so that the table can drop it.
        var isUnused: Bool { references == 0 && known == nil && waiters.isEmpty && watchers.isEmpty }
    }

    /// Who must hear that a key completed (finished, failed or was cancelled).
    struct Completion {
        var state: Client.KeyState
        var waiters: [Waiter]
        /// The completion streams watching it, by number.
        var watchers: [Int]
    }

    private(set) var entries: [TaskKey: Entry] = [:]

    init() {}

    /// Keys with an entry.
    var count: Int { entries.count }

    /// Where `key` stands, as far as this client knows.
    func known(_ key: TaskKey) -> Client.KeyState? { entries[key]?.known }

    /// Whether a future of `key` is alive in this client.
    func isReferenced(_ key: TaskKey) -> Bool { (entries[key]?.references ?? 0) > 0 }

    /// A future of `key` was made. A cancelled key that had no future left starts afresh.
    mutating func retain(_ key: TaskKey) {
        // Never leaves the entry unused: one look-up, inserting when new.
        entries[key, default: Entry()].retain()
    }

    /// A future of `key` is gone: true when it was the last (the key is released, and what the
    /// client knew of it forgotten), as for a key never retained.
    mutating func release(_ key: TaskKey) -> Bool {
        modify(key) { entry in
            let remaining = max(entry.references, 1) - 1
            entry.references = remaining
            if remaining == 0 { entry.known = nil }
            return remaining == 0
        }
    }

    /// The scheduler's news of `key`. Ignored (nil) for a key released or cancelled meanwhile; a
    /// lost key waits on (an empty completion); otherwise its waiters and watchers are taken out
    /// to be told.
    mutating func update(_ key: TaskKey, to state: Client.KeyState) -> Completion? {
        guard let index = entries.index(forKey: key) else { return nil }
        let entry = entries.values[index]
        guard entry.references > 0 else { return nil }
        if case .cancelled = entry.known { return nil }
        return complete(at: index, as: state)
    }

    /// The client cancelled `key`: its waiters and watchers are taken out to be told (nil when no
    /// future of it is alive).
    mutating func cancel(_ key: TaskKey) -> Completion? {
        guard let index = entries.index(forKey: key), entries.values[index].references > 0 else { return nil }
        return complete(at: index, as: .cancelled)
    }

    /// The state of `key` if it is settled (known, and not lost); else `waiter` is kept, under
    /// `number`, until it is.
    mutating func wait(for key: TaskKey, number: Int, waiter: Waiter) -> Client.KeyState? {
        modify(key) { entry in
            if let known = entry.known, !known.isLost { return known }
            entry.waiters[number] = waiter
            return nil
        }
    }

    /// Whether `key` is settled (known, and not lost); if not, the completion stream `number` is
    /// recorded as watching it when `watch` is true.
    mutating func isSettled(_ key: TaskKey, elseWatchAs number: Int, watch: Bool) -> Bool {
        modify(key) { entry in
            if let known = entry.known, !known.isLost { return true }
            if watch { entry.watchers.append(number) }
            return false
        }
    }

    /// Takes out the waiter `number` of `key` (a waiting task was cancelled), if it is still there.
    mutating func removeWaiter(_ number: Int, of key: TaskKey) -> Waiter? {
        modify(key) { $0.waiters.removeValue(forKey: number) }
    }

    /// Forgets that `key` is on `worker` (on any worker when nil): a key with other holders is
    /// fetched from them next; one with none waits for the scheduler's next word on it.
    mutating func forgetLocation(of key: TaskKey, on worker: String?) {
        guard let index = entries.index(forKey: key),
            case .inMemory(let holders, let inline) = entries.values[index].known
        else { return }
        let others = worker.map { gone in holders.filter { $0 != gone } } ?? []
        entries.values[index].known = others.isEmpty ? nil : .inMemory(holders: others, inline: inline)
        if entries.values[index].isUnused { entries.remove(at: index) }
    }

    /// The client closed: every waiter is taken out (to be failed) and every watch ends.
    mutating func takeAllWaiters() -> [Waiter] {
        var waiters: [Waiter] = []
        for index in entries.indices {
            waiters += entries.values[index].waiters.values
            entries.values[index].waiters = [:]
            entries.values[index].watchers = []
        }
        entries = entries.filter { !$0.value.isUnused }
        return waiters
    }

    /// Changes `key`'s entry (made empty if it had none) with one look-up, and drops it if nothing
    /// is left of it.
    private mutating func modify<Result>(_ key: TaskKey, _ body: (inout Entry) -> Result) -> Result {
        if let index = entries.index(forKey: key) {
            let result = body(&entries.values[index])
            if entries.values[index].isUnused { entries.remove(at: index) }
            return result
        }
        var entry = Entry()
        let result = body(&entry)
        if !entry.isUnused { entries[key] = entry }
        return result
    }

    private mutating func complete(at index: Dictionary<TaskKey, Entry>.Index, as state: Client.KeyState)
        -> Completion
    {
        entries.values[index].known = state
        guard !state.isLost else { return Completion(state: state, waiters: [], watchers: []) }
        let waiters = Array(entries.values[index].waiters.values)
        let watchers = entries.values[index].watchers
        entries.values[index].waiters = [:]
        entries.values[index].watchers = []
        return Completion(state: state, waiters: waiters, watchers: watchers)
    }
}

extension KeyTable: Sendable where Waiter: Sendable {}
extension KeyTable.Entry: Sendable where Waiter: Sendable {}
extension KeyTable.Completion: Sendable where Waiter: Sendable {}
