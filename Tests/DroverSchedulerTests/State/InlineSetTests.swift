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
        var inline = InlineSet()
        var reference = Set<Int32>()
        for step in 0..<2_000 {
            // Grow to past the array's limit, then shrink to nothing, and again.
            let universe = 1 + (step / 100 % 3) * 10
            let element = Int32.random(in: 0..<Int32(universe), using: &random)
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
            #expect((0..<Int32(universe)).allSatisfy { inline.contains($0) == reference.contains($0) })
        }
    }

    @Test func equalityAndHashIgnoreOrderAndStorage() {
        let few: InlineSet = [1, 2, 3]
        let reordered: InlineSet = [3, 1, 2]
        var grown = InlineSet(0..<20)
        for element in Int32(4)..<20 { grown.remove(element) }
        grown.remove(0)
        #expect(few == reordered)
        #expect(few == grown)  // a set that shrank back from many
        #expect(few.hashValue == reordered.hashValue)
        #expect(few.hashValue == grown.hashValue)
        #expect(few != [1, 2])
        #expect(few != [1, 2, 4])
    }

    @Test func removeAllAndUnion() {
        var set: InlineSet = [1]
        set.formUnion([1, 2, 3])
        #expect(set.count == 3)
        set.removeAll()
        #expect(set.isEmpty)
        #expect(Array(set).isEmpty)
        #expect(set.description == "[]")
    }

    /// Eight bytes, so that a record's five sets take 40 (a generic set took 9, padded to 16).
    @Test func takesEightBytes() {
        #expect(MemoryLayout<InlineSet>.size == 8)
    }

    /// A copy of a set stored as many is its own: changing one leaves the other (copy on write).
    @Test func copiesOfManyAreIndependent() {
        let original = InlineSet(0..<20)
        var copy = original
        copy.insert(100)
        copy.remove(3)
        #expect(original.count == 20 && original.contains(3) && !original.contains(100))
        #expect(copy.count == 20 && !copy.contains(3) && copy.contains(100))
        var removedFrom = original
        for element in 1..<20 { removedFrom.remove(Int32(element)) }
        #expect(removedFrom == [0])
        #expect(original == InlineSet(0..<20))
    }
}
