import DroverCore
import DroverTestKit
import Testing

@testable import DroverClient

/// The client's per-key table against the four dictionaries it replaced (references, states,
/// waiters, watchers by key), written out here as they were: every operation, in random order,
/// must answer the same.
@Suite struct KeyTableTests {
    /// The client's bookkeeping before the merge, operation for operation.
    struct Dictionaries {
        var references: [TaskKey: Int] = [:]
        var keys: [TaskKey: Client.KeyState] = [:]
        var waiters: [TaskKey: [Int: String]] = [:]
        var watchersByKey: [TaskKey: [Int]] = [:]

        mutating func retain(_ key: TaskKey) {
            if references[key] == nil, case .cancelled = keys[key] { keys[key] = nil }
            references[key, default: 0] += 1
        }

        mutating func release(_ key: TaskKey) -> Bool {
            references[key, default: 1] -= 1
            guard references[key]! <= 0 else { return false }
            references[key] = nil
            keys[key] = nil
            return true
        }

        mutating func update(_ key: TaskKey, to state: Client.KeyState) -> (waiters: [String], watchers: [Int])? {
            guard references[key] != nil else { return nil }
            if case .cancelled = keys[key] { return nil }
            keys[key] = state
            guard !state.isLost else { return ([], []) }
            return (
                (waiters.removeValue(forKey: key) ?? [:]).values.sorted(), watchersByKey.removeValue(forKey: key) ?? []
            )
        }

        mutating func cancel(_ key: TaskKey) -> (waiters: [String], watchers: [Int])? {
            guard references[key] != nil else { return nil }
            keys[key] = .cancelled
            return (
                (waiters.removeValue(forKey: key) ?? [:]).values.sorted(), watchersByKey.removeValue(forKey: key) ?? []
            )
        }

        mutating func wait(for key: TaskKey, number: Int, waiter: String) -> Client.KeyState? {
            if let known = keys[key], !known.isLost { return known }
            waiters[key, default: [:]][number] = waiter
            return nil
        }

        mutating func isSettled(_ key: TaskKey, number: Int, watch: Bool) -> Bool {
            if let known = keys[key], !known.isLost { return true }
            if watch { watchersByKey[key, default: []].append(number) }
            return false
        }

        mutating func removeWaiter(_ number: Int, of key: TaskKey) -> String? {
            defer { if waiters[key]?.isEmpty == true { waiters[key] = nil } }
            return waiters[key]?.removeValue(forKey: number)
        }

        mutating func forgetLocation(of key: TaskKey, on worker: String?) {
            guard case .inMemory(let holders, let inline) = keys[key] else { return }
            let others = worker.map { gone in holders.filter { $0 != gone } } ?? []
            keys[key] = others.isEmpty ? nil : .inMemory(holders: others, inline: inline)
        }

        mutating func takeAllWaiters() -> [String] {
            defer {
                waiters = [:]
                watchersByKey = [:]
            }
            return waiters.values.flatMap(\.values).sorted()
        }
    }

    private static func describe(_ state: Client.KeyState?) -> String {
        state.map { "\($0)" } ?? "nil"
    }

    private static func describe(_ completion: KeyTable<String>.Completion?) -> String {
        completion.map { "\($0.waiters.sorted()) \($0.watchers)" } ?? "nil"
    }

    private static func describe(_ old: (waiters: [String], watchers: [Int])?) -> String {
        old.map { "\($0.waiters) \($0.watchers)" } ?? "nil"
    }

    @Test(arguments: [1, 2, 3, 4, 5, 6] as [UInt64])
    func answersAsTheFourDictionariesDid(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        var table = KeyTable<String>()
        var old = Dictionaries()
        let keys = (0..<6).map { TaskKey("key-\($0)") }
        let states: [Client.KeyState] = [
            .inMemory(holders: ["w1"], inline: nil), .inMemory(holders: ["w1", "w2"], inline: nil),
            .erred(TaskError(kind: .failed, key: "key-0", function: "f", message: "boom")), .lost,
        ]
        var number = 0
        for step in 0..<3_000 {
            let key = keys.randomElement(using: &random)!
            number += 1
            switch Int.random(in: 0..<10, using: &random) {
            case 0, 1:
                table.retain(key)
                old.retain(key)
            case 2:
                let (released, oldReleased) = (table.release(key), old.release(key))
                #expect(released == oldReleased, "step \(step)")
            case 3, 4:
                let state = states.randomElement(using: &random)!
                let (updated, oldUpdated) = (table.update(key, to: state), old.update(key, to: state))
                #expect(Self.describe(updated) == Self.describe(oldUpdated))
            case 5:
                let (cancelled, oldCancelled) = (table.cancel(key), old.cancel(key))
                #expect(Self.describe(cancelled) == Self.describe(oldCancelled), "step \(step)")
            case 6:
                let waiter = "waiter-\(number)"
                let waited = table.wait(for: key, number: number, waiter: waiter)
                let oldWaited = old.wait(for: key, number: number, waiter: waiter)
                #expect(Self.describe(waited) == Self.describe(oldWaited))
            case 7:
                let watch = Bool.random(using: &random)
                let settled = table.isSettled(key, elseWatchAs: number, watch: watch)
                #expect(settled == old.isSettled(key, number: number, watch: watch))
            case 8:
                let earlier = Int.random(in: max(0, number - 20)...number, using: &random)
                let (removed, oldRemoved) = (table.removeWaiter(earlier, of: key), old.removeWaiter(earlier, of: key))
                #expect(removed == oldRemoved)
            default:
                let worker = ["w1", "w2", nil].randomElement(using: &random)!
                table.forgetLocation(of: key, on: worker)
                old.forgetLocation(of: key, on: worker)
            }
            for key in keys {
                #expect(Self.describe(table.known(key)) == Self.describe(old.keys[key]), "step \(step)")
                #expect(table.isReferenced(key) == (old.references[key] != nil))
                #expect((table.entries[key]?.references ?? 0) == (old.references[key] ?? 0))
            }
            // An entry lives exactly while one of the four dictionaries has the key.
            let oldKeys = Set(old.references.keys).union(old.keys.keys).union(old.waiters.keys)
                .union(old.watchersByKey.filter { !$0.value.isEmpty }.keys)
            #expect(Set(table.entries.keys) == oldKeys, "step \(step)")
            if step % 500 == 499 {
                let (taken, oldTaken) = (table.takeAllWaiters().sorted(), old.takeAllWaiters())
                #expect(taken == oldTaken)
            }
        }
    }

    @Test func theLastReleaseForgetsTheKey() {
        var table = KeyTable<String>()
        table.retain("a")
        table.retain("a")
        let updated = table.update("a", to: .inMemory(holders: ["w1"], inline: nil))
        #expect(updated != nil)
        let first = table.release("a")
        #expect(!first)
        #expect(table.isReferenced("a"))
        let last = table.release("a")
        #expect(last)
        #expect(table.count == 0)
        let unknown = table.release("never-retained")
        #expect(unknown)  // as before: its release is sent
        #expect(table.count == 0)
    }

    @Test func newsOfAReleasedOrCancelledKeyIsIgnored() {
        var table = KeyTable<String>()
        let gone = table.update("gone", to: .lost)
        #expect(gone == nil)
        #expect(table.count == 0)
        table.retain("c")
        let waited = table.wait(for: "c", number: 1, waiter: "w")
        #expect(waited == nil)
        let cancelled = table.cancel("c")
        #expect(cancelled?.waiters == ["w"])
        let late = table.update("c", to: .inMemory(holders: ["w1"], inline: nil))
        #expect(late == nil)
        #expect(table.known("c").map { "\($0)" } == "cancelled")
    }

    @Test func aLostKeyKeepsItsWaitersUntilItIsBack() {
        var table = KeyTable<String>()
        table.retain("k")
        let gather = table.wait(for: "k", number: 1, waiter: "gather")
        #expect(gather == nil)
        let settled = table.isSettled("k", elseWatchAs: 7, watch: true)
        #expect(!settled)
        let lost = table.update("k", to: .lost)
        #expect(lost?.waiters == [] && lost?.watchers == [])
        let result = table.wait(for: "k", number: 2, waiter: "result")
        #expect(result == nil)  // lost is not settled
        let back = table.update("k", to: .inMemory(holders: ["w2"], inline: nil))
        #expect(back?.waiters.sorted() == ["gather", "result"])
        #expect(back?.watchers == [7])
        let settledNow = table.isSettled("k", elseWatchAs: 8, watch: true)
        #expect(settledNow)
    }

    @Test func aCancelledWaiterLeavesAndTheEntryGoesWithIt() {
        var table = KeyTable<String>()
        let waited = table.wait(for: "x", number: 3, waiter: "w")
        #expect(waited == nil)
        #expect(table.count == 1)
        let removed = table.removeWaiter(3, of: "x")
        #expect(removed == "w")
        let again = table.removeWaiter(3, of: "x")
        #expect(again == nil)
        #expect(table.count == 0)
    }

    @Test func forgettingTheLastHolderForgetsTheState() {
        var table = KeyTable<String>()
        table.retain("k")
        _ = table.update("k", to: .inMemory(holders: ["w1", "w2"], inline: nil))
        table.forgetLocation(of: "k", on: "w1")
        #expect(table.known("k").map { "\($0)" } == "\(Client.KeyState.inMemory(holders: ["w2"], inline: nil))")
        table.forgetLocation(of: "k", on: "w2")
        #expect(table.known("k") == nil)
        #expect(table.isReferenced("k"))
    }
}
