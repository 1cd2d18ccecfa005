import DroverCore
import DroverTestKit
import Testing

@testable import DroverScheduler

/// Records name workers and clients by number (``SchedulerState/workerNumbers``,
/// ``SchedulerState/clientNumbers``): a number lives as long as its worker or client does, and
/// one given again names only its new owner.
@Suite struct SchedulerStateNumbersTests {
    @Test func aNumberGivenAgainNamesOnlyTheNewWorker() throws {
        var harness = Harness()
        _ = harness.join("w1")
        _ = harness.submit([TaskSpec(key: "a", function: "f", arguments: [])], wants: ["a"])
        _ = harness.handle(.taskFinished("a", worker: "w1", nbytes: 8, duration: 0.01))
        let oldNumber = try #require(harness.state.workerNumbers.number(of: "w1"))
        _ = harness.join("w2")
        _ = harness.handle(.workerLeft("w1", cause: "test"))
        #expect(harness.state.workerNumbers.number(of: "w1") == nil)
        // "a" was lost with w1 and runs again, on w2; a third worker takes w1's number.
        #expect(harness.state.processingOn("a") == "w2")
        _ = harness.join("w3")
        #expect(harness.state.workerNumbers.number(of: "w3") == oldNumber)
        _ = harness.handle(.taskFinished("a", worker: "w2", nbytes: 8, duration: 0.01))
        #expect(harness.state.whoHas("a") == ["w2"])
        #expect(harness.state.processingOn("a") == nil)
        // A finish reported by the worker that now has the old number is not taken as w2's.
        _ = harness.submit([TaskSpec(key: "b", function: "f", arguments: [])], wants: ["b"])
        let runner = try #require(harness.state.processingOn("b"))
        let other: WorkerID = runner == "w2" ? "w3" : "w2"
        let actions = harness.handle(.taskFinished("b", worker: other, nbytes: 8, duration: 0.01))
        #expect(actions == [.free(other, ["b"])])
        #expect(harness.state.processingOn("b") == runner)
    }

    @Test func aClientsNumberGoesWithItsLastWant() throws {
        var harness = Harness()
        _ = harness.join("w1")
        _ = harness.submit([TaskSpec(key: "a", function: "f", arguments: [])], wants: ["a"], client: "c1")
        _ = harness.submit([TaskSpec(key: "a", function: "f", arguments: [])], wants: ["a"], client: "c2")
        #expect(harness.state.wantedBy("a") == ["c1", "c2"])
        #expect(harness.state.clientNumbers.count == 2)
        _ = harness.handle(.keysReleased("c1", ["a"]))
        #expect(harness.state.clientNumbers.number(of: "c1") == nil)
        #expect(harness.state.wantedBy("a") == ["c2"])
        _ = harness.handle(.clientDisconnected("c2"))
        #expect(harness.state.clientNumbers.count == 0)
        #expect(harness.state.tasks["a"] == nil)
    }

    @Test func theInvariantsCatchARecordNamingAFreeNumber() throws {
        var harness = Harness()
        _ = harness.join("w1")
        _ = harness.submit([TaskSpec(key: "a", function: "f", arguments: [])], wants: ["a"])
        var state = harness.state
        let slot = try #require(state.tasks.slot(of: "a"))
        state.tasks[slot].runner = 7
        #expect(throws: InvariantViolation.self) { try state.checkInvariants() }
        state = harness.state
        state.tasks[slot].clients.insert(5)
        #expect(throws: InvariantViolation.self) { try state.checkInvariants() }
        state = harness.state
        state.clientNumbers.remove("c1")
        #expect(throws: InvariantViolation.self) { try state.checkInvariants() }
    }

    /// The record is 96 bytes: five 8-byte sets, the arena range, three 8-byte numbers, two
    /// 4-byte priority parts, the runner and three 1-byte fields.
    @Test func theRecordIsCompact() {
        #expect(MemoryLayout<TaskRecord?>.stride == 96)
    }
}
