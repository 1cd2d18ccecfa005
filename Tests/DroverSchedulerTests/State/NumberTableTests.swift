import DroverCore
import DroverTestKit
import Testing

@testable import DroverScheduler

@Suite struct NumberTableTests {
    /// Random interns and removals, always agreeing with a dictionary: an id keeps its number
    /// while it has one, no two ids share one, freed numbers are given again before new ones, and
    /// an empty table starts from 0.
    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func numbersFollowTheIDs(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        var table = NumberTable<WorkerID>()
        var reference: [WorkerID: Int32] = [:]
        var highest: Int32 = -1
        for _ in 0..<2_000 {
            let id = WorkerID("w\(Int.random(in: 0..<12, using: &random))")
            if Bool.random(using: &random) {
                let freed = Set(0...max(highest, 0)).subtracting(reference.values)
                let number = table.intern(id)
                if let known = reference[id] {
                    #expect(number == known)
                } else if !freed.isEmpty && highest >= 0 {
                    #expect(freed.contains(number) || number == highest + 1)
                }
                reference[id] = number
                highest = max(highest, number)
            } else {
                table.remove(id)
                reference[id] = nil
                if reference.isEmpty { highest = -1 }
            }
            try table.check("worker")
            #expect(table.count == reference.count)
            #expect(Set(reference.values).count == reference.count)
            for (id, number) in reference {
                #expect(table.number(of: id) == number)
                #expect(table.id(of: number) == id)
                #expect(table.isInUse(number))
            }
        }
    }

    @Test func anEmptyTableStartsAgain() {
        var table = NumberTable<ClientID>()
        #expect(table.intern("a") == 0)
        #expect(table.intern("b") == 1)
        table.remove("a")
        #expect(!table.isInUse(0))
        #expect(table.intern("c") == 0)  // the freed number first
        table.remove("b")
        table.remove("c")
        #expect(table.count == 0)
        #expect(table.intern("d") == 0)
        table.remove("unknown")  // nothing happens
        #expect(table.count == 1)
    }
}
