import DroverCore
import DroverWorker
import Testing

/// Drives a worker's state machine and checks its invariants after every event.
struct WorkerHarness {
    var state: WorkerState
    var generation = 0

    init(threads: Int = 1) {
        state = WorkerState(threads: threads, address: "me:1")
    }

    @discardableResult
    mutating func handle(_ event: WorkerState.Event, sourceLocation: SourceLocation = #_sourceLocation) -> [WorkerState
        .Action]
    {
        let actions = state.handle(event)
        do {
            try state.checkInvariants()
        } catch {
            Issue.record("invariant broken after \(event): \(error)", sourceLocation: sourceLocation)
        }
        return actions
    }

    mutating func assign(
        _ key: TaskKey,
        _ dependencies: [TaskKey: [String]] = [:],
        index: Int = 0,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> [WorkerState.Action] {
        let spec = TaskSpec(key: key, function: "f", arguments: dependencies.keys.sorted().map { .key($0) })
        return handle(
            .computeRequested(spec, priority: TaskPriority(generation: 1, index: index), dependencies: dependencies),
            sourceLocation: sourceLocation
        )
    }
}

@Suite struct WorkerStateTests {
    @Test func aTaskWithoutInputsRunsAndIsReported() {
        var worker = WorkerHarness()
        #expect(worker.assign("a") == [.execute("a")])
        #expect(
            worker.handle(.executionFinished("a", nbytes: 8, duration: 0.5)) == [
                .reportFinished("a", nbytes: 8, duration: 0.5, inline: true)
            ])
        #expect(worker.state.records["a"]?.state == .memory)
    }

    @Test func threadsBoundExecutionAndPriorityPicksTheNext() {
        var worker = WorkerHarness(threads: 2)
        #expect(worker.assign("c", index: 3) == [.execute("c")])
        #expect(worker.assign("b", index: 2) == [.execute("b")])
        #expect(worker.assign("z", index: 9).isEmpty)
        #expect(worker.assign("a", index: 1).isEmpty)
        let next = worker.handle(.executionFinished("c", nbytes: 1, duration: 0.1))
        #expect(next == [.reportFinished("c", nbytes: 1, duration: 0.1, inline: true), .execute("a")])
    }

    @Test func missingInputsAreFetchedFromPeersGroupedByPeer() {
        var worker = WorkerHarness()
        let actions = worker.assign("sum", ["x": ["peer:1"], "y": ["peer:1"], "z": ["peer:2", "peer:1"]])
        #expect(actions == [.fetch(["x", "y"], from: "peer:1"), .fetch(["z"], from: "peer:2")])
        #expect(worker.handle(.fetchFinished(["x": 8, "y": 8], from: "peer:1")).isEmpty)
        #expect(worker.handle(.fetchFinished(["z": 8], from: "peer:2")) == [.execute("sum")])
        let done = worker.handle(.executionFinished("sum", nbytes: 8, duration: 0.1))
        // Inputs fetched only for this task are dropped once it is done.
        #expect(
            Set(done) == [
                .reportFinished("sum", nbytes: 8, duration: 0.1, inline: true), .forget("x"), .forget("y"),
                .forget("z"),
            ])
    }

    @Test func aFailedFetchTriesTheNextHolderThenReportsMissing() {
        var worker = WorkerHarness()
        _ = worker.assign("b", ["a": ["p1", "p2"]])
        #expect(worker.handle(.fetchFailed(["a"], from: "p1")) == [.fetch(["a"], from: "p2")])
        #expect(worker.handle(.fetchFailed(["a"], from: "p2")) == [.reportMissing("a", holder: "p2")])
        #expect(worker.state.records["b"]?.state == .waiting)
    }

    @Test func ownAddressIsNeverAPeer() {
        var worker = WorkerHarness()
        #expect(worker.assign("b", ["a": ["me:1", "p2"]]) == [.fetch(["a"], from: "p2")])
    }

    @Test func localResultsFeedLocalTasksWithoutFetching() {
        var worker = WorkerHarness()
        _ = worker.assign("a")
        _ = worker.handle(.executionFinished("a", nbytes: 8, duration: 0.1))
        #expect(worker.assign("b", ["a": ["me:1"]], index: 1) == [.execute("b")])
    }

    @Test func aFailureIsReportedAndForgotten() {
        var worker = WorkerHarness()
        _ = worker.assign("a")
        let error = TaskError(kind: .failed, key: "a", function: "f", message: "boom")
        #expect(worker.handle(.executionFailed("a", error)) == [.reportFailed(error)])
        #expect(worker.state.records["a"] == nil)
    }

    @Test func freeingAnExecutingTaskDropsItsResult() {
        var worker = WorkerHarness()
        _ = worker.assign("a")
        #expect(worker.handle(.freeRequested(["a"])).isEmpty)
        #expect(worker.handle(.executionFinished("a", nbytes: 8, duration: 0.1)) == [.forget("a")])
        #expect(worker.state.records.isEmpty)
    }

    @Test func aTaskFreedWhileRunningAndAssignedAgainKeepsItsResult() {
        var worker = WorkerHarness()
        _ = worker.assign("a")
        _ = worker.handle(.freeRequested(["a"]))
        #expect(worker.assign("a").isEmpty)
        #expect(
            worker.handle(.executionFinished("a", nbytes: 8, duration: 0.1)) == [
                .reportFinished("a", nbytes: 8, duration: 0.1, inline: true)
            ])
        #expect(worker.state.records["a"]?.isAssigned == true)
    }

    @Test func freeingAResultForgetsIt() {
        var worker = WorkerHarness()
        _ = worker.assign("a")
        _ = worker.handle(.executionFinished("a", nbytes: 8, duration: 0.1))
        #expect(worker.handle(.freeRequested(["a"])) == [.forget("a")])
    }

    @Test func onlyTasksNotStartedCanBeStolen() {
        var worker = WorkerHarness()
        _ = worker.assign("running")
        _ = worker.assign("queued", index: 1)
        #expect(worker.handle(.stealRequested("queued")) == [.answerSteal("queued", started: false)])
        #expect(worker.handle(.stealRequested("running")) == [.answerSteal("running", started: true)])
        #expect(
            worker.handle(.executionFinished("running", nbytes: 1, duration: 0.1)) == [
                .reportFinished("running", nbytes: 1, duration: 0.1, inline: true)
            ])
    }

    @Test func onlySmallResultsTravelInline() {
        var worker = WorkerHarness()
        _ = worker.assign("small")
        #expect(
            worker.handle(.executionFinished("small", nbytes: WorkerState.inlineResultBytes, duration: 0.1)) == [
                .reportFinished("small", nbytes: WorkerState.inlineResultBytes, duration: 0.1, inline: true)
            ])
        _ = worker.assign("large")
        #expect(
            worker.handle(.executionFinished("large", nbytes: WorkerState.inlineResultBytes + 1, duration: 0.1)) == [
                .reportFinished("large", nbytes: WorkerState.inlineResultBytes + 1, duration: 0.1, inline: false)
            ])
    }

    @Test func anAssignmentOfAKeyAlreadyHereIsReportedAtOnce() {
        var worker = WorkerHarness()
        _ = worker.assign("a")
        _ = worker.handle(.executionFinished("a", nbytes: 4, duration: 0.1))
        #expect(worker.assign("a") == [.reportFinished("a", nbytes: 4, duration: 0, inline: true)])
    }
}

@Suite struct WorkerStateScatterTests {
    @Test func aValuePutHereIsHeldForTheScheduler() {
        var harness = WorkerHarness()
        _ = harness.handle(.dataReceived(["data": 100]))
        #expect(harness.state.records["data"]?.state == .memory)
        #expect(harness.state.records["data"]?.isAssigned == true)
        // A task on it runs without fetching.
        let actions = harness.assign("use", ["data": ["peer:1"]])
        #expect(actions == [.execute("use")])
        // The scheduler frees it: it goes once no task needs it.
        _ = harness.handle(.executionFinished("use", nbytes: 8, duration: 0.01))
        #expect(harness.handle(.freeRequested(["data"])) == [.forget("data")])
    }

    @Test func aValuePutHereSatisfiesAFetchInFlight() {
        var harness = WorkerHarness()
        _ = harness.assign("use", ["data": ["peer:1"]])
        #expect(harness.state.records["data"]?.state == .flight)
        let actions = harness.handle(.dataReceived(["data": 100]))
        #expect(actions == [.execute("use")])
    }

    @Test func userPriorityComesBeforeSubmissionOrder() {
        var harness = WorkerHarness(threads: 1)
        _ = harness.assign("first", index: 0)  // takes the only thread
        let spec = { (key: TaskKey) in TaskSpec(key: key, function: "f", arguments: []) }
        _ = harness.handle(
            .computeRequested(spec("low"), priority: TaskPriority(generation: 1, index: 1), dependencies: [:]))
        _ = harness.handle(
            .computeRequested(
                spec("high"), priority: TaskPriority(user: 5, generation: 2, index: 0), dependencies: [:]))
        let next = harness.handle(.executionFinished("first", nbytes: 8, duration: 0.01))
        #expect(next.contains(.execute("high")))
        #expect(!next.contains(.execute("low")))
    }
}

@Suite struct WorkerStatePauseTests {
    @Test func aPausedWorkerStartsNothingNewButFinishesWhatRuns() {
        var worker = WorkerHarness()
        #expect(worker.assign("running") == [.execute("running")])
        #expect(worker.handle(.pauseChanged(true)).isEmpty)
        #expect(worker.state.isPaused)
        #expect(worker.assign("queued", index: 1).isEmpty)
        #expect(worker.state.records["queued"]?.state == .ready)
        #expect(
            worker.handle(.executionFinished("running", nbytes: 8, duration: 0.1)) == [
                .reportFinished("running", nbytes: 8, duration: 0.1, inline: true)
            ])
        #expect(worker.state.executingCount == 0)
        #expect(worker.state.records["queued"]?.state == .ready)
    }

    @Test func fetchesCompleteWhilePaused() {
        var worker = WorkerHarness()
        _ = worker.handle(.pauseChanged(true))
        #expect(worker.assign("sum", ["x": ["peer:1"]]) == [.fetch(["x"], from: "peer:1")])
        #expect(worker.handle(.fetchFinished(["x": 8], from: "peer:1")).isEmpty)
        #expect(worker.state.records["x"]?.state == .memory)
        #expect(worker.state.records["sum"]?.state == .ready)
    }

    @Test func resumingStartsTheReadyTasksByPriority() {
        var worker = WorkerHarness(threads: 2)
        _ = worker.handle(.pauseChanged(true))
        _ = worker.assign("c", index: 3)
        _ = worker.assign("a", index: 1)
        _ = worker.assign("b", index: 2)
        #expect(worker.handle(.pauseChanged(false)) == [.execute("a"), .execute("b")])
        #expect(!worker.state.isPaused)
        #expect(
            worker.handle(.executionFinished("a", nbytes: 1, duration: 0.1)) == [
                .reportFinished("a", nbytes: 1, duration: 0.1, inline: true), .execute("c"),
            ])
    }

    @Test func pausingTwiceOrResumingWhenRunningChangesNothing() {
        var worker = WorkerHarness()
        #expect(worker.handle(.pauseChanged(false)).isEmpty)
        _ = worker.handle(.pauseChanged(true))
        #expect(worker.handle(.pauseChanged(true)).isEmpty)
        #expect(worker.state.isPaused)
    }
}

/// A task of this worker that another local task needs, and that will not be computed here after
/// all (found by the `worker` fuzz target: the dependent waited forever).
@Suite struct WorkerStateUnassignTests {
    /// "x" waits for a remote input; "y", also here, needs "x".
    private func twoTasks() -> WorkerHarness {
        var harness = WorkerHarness()
        _ = harness.assign("x", ["remote": ["peer:1"]])
        _ = harness.assign("y", ["x": []], index: 1)
        return harness
    }

    @Test func aFreedTaskThatALocalTaskNeedsBecomesAnInputToFetch() {
        var harness = twoTasks()
        let actions = harness.handle(.freeRequested(["x"]))
        #expect(actions.contains(.reportMissing("x", holder: "")))
        #expect(harness.state.records["x"]?.state == .fetch)
        #expect(harness.state.records["x"]?.isAssigned == false)
        // Its result arrives from elsewhere: "y" runs.
        let arrived = harness.handle(.fetchFinished(["x": 8], from: "peer:2"))
        #expect(arrived.contains(.execute("y")))
    }

    @Test func aStolenTaskThatALocalTaskNeedsBecomesAnInputToFetch() {
        var harness = twoTasks()
        let actions = harness.handle(.stealRequested("x"))
        #expect(actions.contains(.answerSteal("x", started: false)))
        #expect(actions.contains(.reportMissing("x", holder: "")))
        #expect(harness.state.records["y"]?.waitingOn == ["x"])
    }

    @Test func aFailedTaskLeavesItsLocalDependentWaitingForTheSchedulersWord() {
        var harness = WorkerHarness()
        _ = harness.assign("x")
        _ = harness.assign("y", ["x": []], index: 1)
        let error = TaskError(kind: .failed, key: "x", function: "f", message: "boom")
        let actions = harness.handle(.executionFailed("x", error))
        #expect(actions.contains(.reportFailed(error)))
        #expect(!actions.contains(.reportMissing("x", holder: "")))
        // The scheduler errs "y" too and frees it: nothing is left.
        _ = harness.handle(.freeRequested(["y"]))
        #expect(harness.state.records.isEmpty)
    }
}
