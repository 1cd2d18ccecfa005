import DroverCore
import DroverScheduler
import DroverTestKit
import Testing

@Suite struct InlineSetTests {
    /// Random inserts and removals over a small universe, through every storage (none, one, a few,
    /// many, and back), always agreeing with a `Set`.
    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func agreesWithASetThroughEveryStorage(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        var inline = InlineSet<Int>()
        var reference = Set<Int>()
        for step in 0..<2_000 {
            // Grow to past the array's limit, then shrink to nothing, and again.
            let universe = 1 + (step / 100 % 3) * 10
            let element = Int.random(in: 0..<universe, using: &random)
            if Bool.random(using: &random) {
                let inserted = inline.insert(element)
                #expect(inserted.inserted == reference.insert(element).inserted)
                #expect(inserted.memberAfterInsert == element)
            } else {
                #expect(inline.remove(element) == reference.remove(element))
            }
            #expect(inline.count == reference.count)
            #expect(inline.isEmpty == reference.isEmpty)
            #expect(Set(inline) == reference)
            #expect(Array(inline).count == reference.count)  // each element once
            #expect(inline == InlineSet(reference))
            #expect((0..<universe).allSatisfy { inline.contains($0) == reference.contains($0) })
        }
    }

    @Test func equalityAndHashIgnoreOrderAndStorage() {
        let few: InlineSet<Int> = [1, 2, 3]
        let reordered: InlineSet<Int> = [3, 1, 2]
        var grown = InlineSet<Int>(0..<20)
        for element in 4..<20 { grown.remove(element) }
        grown.remove(0)
        #expect(few == reordered)
        #expect(few == grown)  // a set that shrank back from many
        #expect(few.hashValue == reordered.hashValue)
        #expect(few.hashValue == grown.hashValue)
        #expect(few != [1, 2])
        #expect(few != [1, 2, 4])
    }

    @Test func removeAllAndUnion() {
        var set: InlineSet<String> = ["a"]
        set.formUnion(["a", "b", "c"])
        #expect(set.count == 3)
        set.removeAll()
        #expect(set.isEmpty)
        #expect(Array(set).isEmpty)
        #expect(set.description == "[]")
    }
}
