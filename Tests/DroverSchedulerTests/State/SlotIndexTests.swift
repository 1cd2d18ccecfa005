import DroverTestKit
import Testing

@testable import DroverScheduler

@Suite struct SlotIndexTests {
    /// Keys are the slots themselves here; `hashes` gives each key's hash.
    private func find(_ key: Int32, in index: SlotIndex, hashes: [Int32: Int]) -> Int32? {
        index.find(hash: hashes[key]!) { $0 == key }
    }

    /// Random inserts and removals, with hashes drawn from a few values (long collision runs, runs
    /// that wrap past the end of the buckets), always agreeing with a set and valid.
    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func agreesWithASet(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        var index = SlotIndex()
        var present: Set<Int32> = []
        var hashes: [Int32: Int] = [:]
        let spread = [1, 3, 16, 1 << 40][Int(seed) % 4]
        for step in 0..<4_000 {
            let key = Int32.random(in: 0..<200, using: &random)
            if hashes[key] == nil {
                // A hash whose low bits sit near the top of small tables, or anywhere.
                hashes[key] = Int.random(in: 0..<spread, using: &random) &+ (step % 2 == 0 ? 15 : -1)
            }
            if present.contains(key) {
                let removed = index.remove(key, hash: hashes[key]!)
                #expect(removed)
                present.remove(key)
            } else {
                index.insert(key, hash: hashes[key]!)
                present.insert(key)
            }
            #expect(index.count == present.count)
            #expect(index.isValid)
            if step % 50 == 0 || present.count < 8 {
                for candidate in Int32(0)..<200 where hashes[candidate] != nil {
                    #expect((find(candidate, in: index, hashes: hashes) != nil) == present.contains(candidate))
                }
                #expect(Set(index.slots) == present)
            }
        }
    }

    /// Every order of removing five entries that share one home bucket at the end of the table
    /// (so their run wraps to the start) leaves the rest findable.
    @Test func removalShiftsARunThatWraps() {
        let keys: [Int32] = [0, 1, 2, 3, 4]
        let hashes = Dictionary(uniqueKeysWithValues: keys.map { ($0, 15) })  // bucket 15 of 16
        func permutations(_ items: [Int32]) -> [[Int32]] {
            guard items.count > 1 else { return [items] }
            return items.indices.flatMap { i in
                permutations(Array(items[..<i] + items[(i + 1)...])).map { [items[i]] + $0 }
            }
        }
        for order in permutations(keys) {
            var index = SlotIndex()
            for key in keys { index.insert(key, hash: 15) }
            #expect(index.capacity == 16)
            var remaining = Set(keys)
            for key in order {
                let removed = index.remove(key, hash: 15)
                #expect(removed)
                remaining.remove(key)
                #expect(index.isValid)
                for other in keys {
                    #expect((find(other, in: index, hashes: hashes) != nil) == remaining.contains(other))
                }
            }
        }
    }

    @Test func removingWhatIsAbsentChangesNothing() {
        var index = SlotIndex()
        var removed = index.remove(3, hash: 3)
        #expect(!removed)
        index.insert(3, hash: 3)
        removed = index.remove(4, hash: 3)
        #expect(!removed)
        removed = index.remove(3, hash: 4)
        #expect(!removed)
        #expect(index.count == 1)
        #expect(index.find(hash: 3) { $0 == 3 } == 3)
    }

    /// It grows at 3/4 full and gives its room back once empty.
    @Test func growsAndGivesRoomBack() {
        var index = SlotIndex()
        #expect(index.capacity == 0)
        for slot in Int32(0)..<12 { index.insert(slot, hash: Int(slot) &* 0x9E37_79B9) }
        #expect(index.capacity == 16)
        index.insert(12, hash: 12 &* 0x9E37_79B9)
        #expect(index.capacity == 32)
        #expect(index.isValid)
        for slot in Int32(0)...12 {
            let removed = index.remove(slot, hash: Int(slot) &* 0x9E37_79B9)
            #expect(removed)
        }
        #expect(index.count == 0)
        #expect(index.capacity == 0)
    }
}
