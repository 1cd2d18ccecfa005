import DroverCore
import DroverWorker
import Testing

@Suite struct WorkerStateReplicationTests {
    @Test func copiesAreFetchedGroupedByHolderAndReportedOnArrival() {
        var worker = WorkerHarness()
        let actions = worker.handle(.replicateRequested(["x": ["old:1"], "y": ["old:1"], "z": ["other:2", "old:1"]]))
        #expect(actions == [.fetch(["x", "y"], from: "old:1"), .fetch(["z"], from: "other:2")])
        #expect(
            worker.handle(.fetchFinished(["x": 10, "y": 2000], from: "old:1")) == [
                .reportAcquired("x", nbytes: 10), .reportAcquired("y", nbytes: 2000),
            ])
        #expect(worker.state.records["x"]?.isAssigned == true)
        #expect(worker.state.records["x"]?.state == .memory)
        // It is a result the scheduler tracks: kept until freed.
        #expect(worker.handle(.freeRequested(["x"])) == [.forget("x")])
    }

    @Test func aKeyAlreadyHereIsReportedAtOnce() {
        var worker = WorkerHarness()
        _ = worker.assign("a")
        _ = worker.handle(.executionFinished("a", nbytes: 4, duration: 0.1))
        #expect(worker.handle(.replicateRequested(["a": ["old:1"]])) == [.reportAcquired("a", nbytes: 4)])
    }

    @Test func anInputHereBecomesAResultAndIsKept() {
        var worker = WorkerHarness()
        _ = worker.assign("b", ["x": ["peer:1"]])
        _ = worker.handle(.fetchFinished(["x": 8], from: "peer:1"))
        #expect(worker.handle(.replicateRequested(["x": ["old:1"]])) == [.reportAcquired("x", nbytes: 8)])
        let done = worker.handle(.executionFinished("b", nbytes: 8, duration: 0.1))
        #expect(done == [.reportFinished("b", nbytes: 8, duration: 0.1, inline: true)])
        #expect(worker.state.records["x"]?.state == .memory)
    }

    @Test func anInputInFlightIsReportedOnceWhenItArrives() {
        var worker = WorkerHarness()
        #expect(worker.assign("b", ["x": ["peer:1"]]) == [.fetch(["x"], from: "peer:1")])
        #expect(worker.handle(.replicateRequested(["x": ["old:1"]])).isEmpty)
        #expect(
            worker.handle(.fetchFinished(["x": 8], from: "peer:1")) == [
                .reportAcquired("x", nbytes: 8), .execute("b"),
            ])
        #expect(worker.state.records["x"]?.isReplicaRequested == false)
    }

    @Test func aKeyFreedInFlightIsDroppedWhenItArrives() {
        var worker = WorkerHarness()
        _ = worker.handle(.replicateRequested(["x": ["old:1"]]))
        #expect(worker.handle(.freeRequested(["x"])).isEmpty)
        #expect(worker.state.records["x"] == nil)
        #expect(worker.handle(.fetchFinished(["x": 8], from: "old:1")) == [.forget("x")])
        #expect(worker.state.records.isEmpty)
    }

    @Test func anInputFreedAsACopyInFlightStaysForItsTask() {
        var worker = WorkerHarness()
        _ = worker.assign("b", ["x": ["peer:1"]])
        _ = worker.handle(.replicateRequested(["x": ["old:1"]]))
        #expect(worker.handle(.freeRequested(["x"])).isEmpty)
        #expect(worker.handle(.fetchFinished(["x": 8], from: "peer:1")) == [.execute("b")])
        #expect(
            Set(worker.handle(.executionFinished("b", nbytes: 8, duration: 0.1))) == [
                .reportFinished("b", nbytes: 8, duration: 0.1, inline: true), .forget("x"),
            ])
    }

    @Test func whenEveryHolderFailsNothingIsReported() {
        var worker = WorkerHarness()
        #expect(worker.handle(.replicateRequested(["x": ["p1", "p2"]])) == [.fetch(["x"], from: "p1")])
        #expect(worker.handle(.fetchFailed(["x"], from: "p1")) == [.fetch(["x"], from: "p2")])
        #expect(worker.handle(.fetchFailed(["x"], from: "p2")).isEmpty)
        #expect(worker.state.records.isEmpty)
    }

    @Test func aCopyFromNobodyButThisWorkerIsIgnored() {
        var worker = WorkerHarness()
        #expect(worker.handle(.replicateRequested(["x": ["me:1"], "y": []])).isEmpty)
        #expect(worker.state.records.isEmpty)
    }

    @Test func aKeyComputedHereIsReportedWhenFinished() {
        var worker = WorkerHarness()
        _ = worker.assign("a")
        #expect(worker.handle(.replicateRequested(["a": ["old:1"]])).isEmpty)
        #expect(
            worker.handle(.executionFinished("a", nbytes: 4, duration: 0.1)) == [
                .reportFinished("a", nbytes: 4, duration: 0.1, inline: true)
            ])
    }

    @Test func anInputNobodyCouldGiveIsFetchedFromTheNewHolders() {
        var worker = WorkerHarness()
        _ = worker.assign("b", ["x": ["p1"]])
        #expect(worker.handle(.fetchFailed(["x"], from: "p1")) == [.reportMissing("x", holder: "p1")])
        #expect(worker.handle(.replicateRequested(["x": ["old:1"]])) == [.fetch(["x"], from: "old:1")])
        #expect(
            worker.handle(.fetchFinished(["x": 8], from: "old:1")) == [.reportAcquired("x", nbytes: 8), .execute("b")])
    }
}
