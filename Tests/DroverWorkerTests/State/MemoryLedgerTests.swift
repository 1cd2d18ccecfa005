import DroverCore
import DroverWorker
import Testing

/// A ledger whose invariants are checked after every change.
struct LedgerHarness {
    var ledger = MemoryLedger()

    mutating func change(
        sourceLocation: SourceLocation = #_sourceLocation, _ body: (inout MemoryLedger) -> Void
    ) {
        body(&ledger)
        do {
            try ledger.checkInvariants()
        } catch {
            Issue.record("invariant broken: \(error)", sourceLocation: sourceLocation)
        }
    }

    var order: [TaskKey] { ledger.leastRecentlyUsed.map(\.key) }
}

@Suite struct MemoryLedgerTests {
    @Test func keysAreListedLeastRecentlyUsedFirst() {
        var harness = LedgerHarness()
        harness.change { $0.insert("a", nbytes: 10) }
        harness.change { $0.insert("b", nbytes: 20) }
        harness.change { $0.insert("c", nbytes: 30) }
        #expect(harness.order == ["a", "b", "c"])
        harness.change { $0.touch("a") }
        #expect(harness.order == ["b", "c", "a"])
        harness.change { $0.touch("a") }
        #expect(harness.order == ["b", "c", "a"])
        #expect(harness.ledger.managedBytes == 60)
        #expect(harness.ledger.count == 3)
    }

    @Test func storingAKeyAgainReplacesItsSize() {
        var harness = LedgerHarness()
        harness.change { $0.insert("a", nbytes: 10) }
        harness.change { $0.insert("b", nbytes: 20) }
        harness.change { $0.insert("a", nbytes: 5) }
        #expect(harness.order == ["b", "a"])
        #expect(harness.ledger.managedBytes == 25)
        #expect(harness.ledger.nbytes(of: "a") == 5)
    }

    @Test func spillingAndLoadingMoveBytesBetweenTheTotals() {
        var harness = LedgerHarness()
        harness.change { $0.insert("a", nbytes: 10) }
        harness.change { $0.insert("b", nbytes: 20) }
        harness.change { $0.insert("c", nbytes: 30) }
        harness.change { $0.markSpilled("b") }
        #expect(harness.order == ["a", "c"])
        #expect(harness.ledger.location(of: "b") == .disk)
        #expect(harness.ledger.managedBytes == 40)
        #expect(harness.ledger.spilledBytes == 20)
        #expect(harness.ledger.spilledCount == 1)
        // Touching a spilled key does not bring it back; loading does, as the newest.
        harness.change { $0.touch("b") }
        #expect(harness.ledger.location(of: "b") == .disk)
        harness.change { $0.markLoaded("b") }
        #expect(harness.order == ["a", "c", "b"])
        #expect(harness.ledger.managedBytes == 60)
        #expect(harness.ledger.spilledBytes == 0)
    }

    @Test func removingForgetsAKeyWhereverItIs() {
        var harness = LedgerHarness()
        harness.change { $0.insert("a", nbytes: 10) }
        harness.change { $0.insert("b", nbytes: 20) }
        harness.change { $0.insert("c", nbytes: 30) }
        harness.change { $0.markSpilled("a") }
        var removed: [MemoryLedger.Location?] = []
        harness.change { removed.append($0.remove("a")) }
        harness.change { removed.append($0.remove("b")) }
        harness.change { removed.append($0.remove("nothing")) }
        #expect(removed == [.disk, .memory, nil])
        #expect(harness.order == ["c"])
        #expect(harness.ledger.managedBytes == 30)
        #expect(harness.ledger.spilledBytes == 0)
        harness.change { $0.removeAll() }
        #expect(harness.ledger.count == 0)
    }

    static let targets: [(Int64, [TaskKey])] = [
        (60, []), (59, ["a"]), (50, ["a"]), (49, ["a", "b"]), (0, ["a", "b", "c"]),
    ]

    @Test(arguments: targets)
    func theLeastRecentlyUsedAreSpilledToReachATarget(target: Int64, keys: [TaskKey]) {
        var harness = LedgerHarness()
        harness.change { $0.insert("a", nbytes: 10) }
        harness.change { $0.insert("b", nbytes: 20) }
        harness.change { $0.insert("c", nbytes: 30) }
        #expect(harness.ledger.keysToSpill(toReach: target) == keys)
    }
}
