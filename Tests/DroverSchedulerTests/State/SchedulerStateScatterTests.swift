import DroverCore
import DroverScheduler
import Testing

/// Scattered values and user priorities in the scheduler's state machine.
@Suite struct SchedulerStateScatterTests {
    @Test func aScatteredValueIsInMemoryWhereItWasPutAndFeedsTasks() {
        var harness = Harness()
        _ = harness.join("w1")
        _ = harness.join("w2")
        let scattered = harness.handle(
            .dataScattered("c1", [.init(key: "data", nbytes: 4_000_000, workerAddress: "tcp://w2")]))
        #expect(scattered == [.notify("c1", .inMemory("data", nbytes: 4_000_000, holders: ["tcp://w2"]))])
        #expect(harness.state(of: "data") == .memory)
        // A task on a large scattered value runs where the value is.
        let actions = harness.submit([task("use", "data")], wants: ["use"])
        #expect(computes(actions).map(\.0) == ["w2"])
    }

    @Test func releasingAScatteredValueFreesItOnItsWorker() {
        var harness = Harness()
        _ = harness.join("w1")
        _ = harness.handle(.dataScattered("c1", [.init(key: "data", nbytes: 8, workerAddress: "tcp://w1")]))
        let released = harness.handle(.keysReleased("c1", ["data"]))
        #expect(released == [.free("w1", ["data"])])
        #expect(harness.state(of: "data") == nil)
    }

    @Test func aLostScatteredValueErrsInsteadOfRecomputing() throws {
        var harness = Harness()
        _ = harness.join("w1")
        _ = harness.join("w2")
        _ = harness.handle(.dataScattered("c1", [.init(key: "data", nbytes: 8, workerAddress: "tcp://w1")]))
        let actions = harness.handle(.workerLeft("w1", cause: "killed"))
        #expect(computes(actions).isEmpty)
        guard case .notify("c1", .erred("data", let error)) = try #require(actions.first) else {
            Issue.record("expected an error for the client, got \(actions)")
            return
        }
        #expect(error.message.contains("no lineage"))
        #expect(harness.state(of: "data") == .erred)
    }

    @Test func aValueScatteredToAnUnknownWorkerIsAnError() throws {
        var harness = Harness()
        _ = harness.join("w1")
        let actions = harness.handle(.dataScattered("c1", [.init(key: "data", nbytes: 8, workerAddress: "tcp://gone")]))
        guard case .notify("c1", .erred("data", let error)) = try #require(actions.first) else {
            Issue.record("expected an error for the client, got \(actions)")
            return
        }
        #expect(error.message.contains("(tcp://gone) is no longer connected"))
        #expect(harness.state(of: "data") == nil)
    }

    @Test func aHigherUserPriorityLeavesTheQueueFirst() {
        var harness = Harness()
        _ = harness.join("w1")
        // Saturate the worker, then queue a low and a high priority root task.
        _ = harness.submit([task("busy-1"), task("busy-2")], wants: ["busy-1", "busy-2"])
        _ = harness.handle(
            .graphSubmitted("c1", tasks: [.init(spec: task("low"), priority: 0)], wants: ["low"]))
        _ = harness.handle(
            .graphSubmitted("c1", tasks: [.init(spec: task("high"), priority: 10)], wants: ["high"]))
        #expect(harness.state(of: "low") == .queued)
        #expect(harness.state(of: "high") == .queued)
        let next = harness.handle(.taskFinished("busy-1", worker: "w1", nbytes: 8, duration: 0.01))
        #expect(computedKeys(next, on: "w1") == ["high"])
    }

    @Test func theWorkerFoundAtAnAddress() {
        var harness = Harness()
        _ = harness.join("w1")
        #expect(harness.state.worker(at: "tcp://w1") == "w1")
        #expect(harness.state.worker(at: "tcp://w9") == nil)
    }
}
