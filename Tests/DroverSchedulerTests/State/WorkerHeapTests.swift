import DroverCore
import DroverScheduler
import DroverTestKit
import Testing

@Suite struct WorkerHeapTests {
    /// Random inserts, rank changes up and down, and removals (first, last, middle) over a dozen
    /// workers, always agreeing with a dictionary's minimum.
    @Test(arguments: Array(1...8) as [UInt64])
    func firstIsAlwaysTheLowestRank(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        var heap = WorkerHeap()
        var reference: [WorkerID: WorkerHeap.Rank] = [:]
        let ids = (0..<12).map { WorkerID("w\($0)") }
        for _ in 0..<3_000 {
            let id = ids.randomElement(using: &random)!
            if Int.random(in: 0..<4, using: &random) == 0 {
                heap.remove(id)
                reference[id] = nil
            } else {
                // Few distinct starts and counts, so that ties fall through to the next field.
                let rank = WorkerHeap.Rank(
                    start: Double(Int.random(in: 0..<4, using: &random)) / 2,
                    tasks: Int.random(in: 0..<3, using: &random), id: id)
                heap.update(rank)
                reference[id] = rank
            }
            #expect(heap.isValid)
            #expect(heap.count == reference.count)
            #expect(heap.isEmpty == reference.isEmpty)
            #expect(heap.first == reference.values.min()?.id)
            #expect(Set(heap.ids) == Set(reference.keys))
            #expect(
                ids.allSatisfy { heap.rank(of: $0) == reference[$0] && heap.contains($0) == (reference[$0] != nil) })
        }
    }

    @Test func ranksCompareByStartThenTasksThenID() {
        let a = WorkerHeap.Rank(start: 0.5, tasks: 3, id: "b")
        #expect(WorkerHeap.Rank(start: 0.25, tasks: 9, id: "z") < a)
        #expect(WorkerHeap.Rank(start: 0.5, tasks: 2, id: "z") < a)
        #expect(WorkerHeap.Rank(start: 0.5, tasks: 3, id: "a") < a)
        #expect(!(a < a))
    }
}
