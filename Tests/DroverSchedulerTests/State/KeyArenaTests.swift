import DroverCore
import DroverTestKit
import Testing

@testable import DroverScheduler

@Suite struct KeyArenaTests {
    @Test func storesLooksUpAndRemoves() throws {
        var arena = KeyArena()
        let keys: [TaskKey] = ["", "a", "noop-0123456789abcdef0123456789abcdef", "ключ-🙂"]
        for (slot, key) in keys.enumerated() { arena.store(key, at: TaskSlot(slot)) }
        for (slot, key) in keys.enumerated() {
            #expect(arena.key(at: TaskSlot(slot)) == key)
            #expect(arena.matches(key, at: TaskSlot(slot)))
            #expect(arena.hashValue(at: TaskSlot(slot)) == key.hashValue)
            for other in keys where other != key { #expect(!arena.matches(other, at: TaskSlot(slot))) }
        }
        #expect(!arena.matches("noop-0123456789abcdef0123456789abcdee", at: 2))
        #expect(arena.liveBytes == keys.reduce(0) { $0 + $1.rawValue.utf8.count })
        try arena.check(slots: 4) { _ in true }
        arena.remove(at: 1)
        #expect(!arena.holdsKey(1))
        #expect(arena.deadBytes == 1)
        try arena.check(slots: 4) { $0 != 1 }
        // The check fails when the table and the arena disagree.
        #expect(throws: InvariantViolation.self) { try arena.check(slots: 4) { _ in true } }
        #expect(throws: InvariantViolation.self) { try arena.check(slots: 5) { $0 != 1 } }
        // A freed slot takes a new key, appended.
        arena.store("b", at: 1)
        #expect(arena.key(at: 1) == "b")
        #expect(arena.key(at: 2) == "noop-0123456789abcdef0123456789abcdef")
        try arena.check(slots: 4) { _ in true }
        // Empty keys take no bytes: removing every other key keeps them.
        arena.store("", at: 4)
        for slot in 1..<4 { arena.remove(at: TaskSlot(slot)) }
        #expect(arena.key(at: 0) == "" && arena.key(at: 4) == "")
        try arena.check(slots: 5) { $0 == 0 || $0 == 4 }
        arena.remove(at: 0)
        arena.remove(at: 4)
        #expect(arena.liveBytes == 0 && arena.deadBytes == 0 && arena.capacity == 0)
    }

    /// An empty key's span starts where the next key's does: not an overlap (found by the
    /// scheduler fuzz target, seed 8589934602, whose lower slot got the longer key).
    @Test func anEmptyKeySharesItsOffset() throws {
        var arena = KeyArena()
        arena.store("", at: 5)
        arena.store("ab", at: 0)
        try arena.check(slots: 6) { $0 == 0 || $0 == 5 }
        #expect(arena.key(at: 5) == "" && arena.key(at: 0) == "ab")
    }

    /// Once removed keys' bytes outnumber the live ones (past the floor), the live keys are copied
    /// into a buffer of their size and keep their slots.
    @Test func compactsWhenMostBytesAreDead() throws {
        var arena = KeyArena()
        let count = 1_000
        let keys = (0..<count).map { TaskKey("noop-\($0)-" + String(repeating: "f", count: 32)) }
        for (slot, key) in keys.enumerated() { arena.store(key, at: TaskSlot(slot)) }
        let total = arena.liveBytes
        var removed: Set<Int> = []
        var compacted = false
        for slot in Array(stride(from: 0, to: count, by: 3)) + Array(stride(from: 1, to: count, by: 3)) {
            let before = arena.deadBytes
            arena.remove(at: TaskSlot(slot))
            removed.insert(slot)
            if arena.deadBytes < before { compacted = true }
            #expect(arena.deadBytes <= max(KeyArena.compactionFloor, arena.liveBytes))
            try arena.check(slots: count) { !removed.contains(Int($0)) }
        }
        #expect(compacted)
        #expect(arena.liveBytes < total / 2)
        for slot in 0..<count where !removed.contains(slot) {
            #expect(arena.key(at: TaskSlot(slot)) == keys[slot])
        }
    }

    /// Random stores and removals over reused slots, always agreeing with a dictionary.
    @Test(arguments: [1, 2, 3] as [UInt64])
    func agreesWithADictionary(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        var arena = KeyArena()
        var reference: [TaskSlot: TaskKey] = [:]
        for step in 0..<5_000 {
            let slot = TaskSlot.random(in: 0..<300, using: &random)
            if reference[slot] != nil {
                arena.remove(at: slot)
                reference[slot] = nil
            } else {
                let key = TaskKey("k\(step)-" + String(repeating: "0", count: Int.random(in: 0..<60, using: &random)))
                arena.store(key, at: slot)
                reference[slot] = key
            }
        }
        try arena.check(slots: 300) { reference[$0] != nil }
        for (slot, key) in reference { #expect(arena.key(at: slot) == key) }
        #expect(arena.deadBytes <= max(KeyArena.compactionFloor, arena.liveBytes))
    }
}
