import DroverCore
import DroverWorker
import Testing

/// Seceding and rejoining (Dask's `secede()`/`rejoin()`): a task waiting on tasks of its own
/// gives its thread slot to the next ready task, and takes one back before it runs on.
@Suite struct WorkerStateSecedeTests {
    @Test func aSecededTaskFreesItsSlotForTheNextReadyTask() {
        var worker = WorkerHarness(threads: 1)
        #expect(worker.assign("parent", index: 0) == [.execute("parent")])
        #expect(worker.assign("child", index: 1).isEmpty)
        #expect(worker.handle(.seceded("parent")) == [.reportSeceded("parent"), .execute("child")])
        #expect(worker.state.executingCount == 1)
        #expect(worker.state.records["parent"]?.state == .executing)
        #expect(worker.state.records["parent"]?.isSeceded == true)
        // Seceding twice changes nothing.
        #expect(worker.handle(.seceded("parent")).isEmpty)
    }

    @Test func rejoinWaitsForAFreeSlotAndGoesBeforeReadyTasks() {
        var worker = WorkerHarness(threads: 1)
        _ = worker.assign("parent", index: 0)
        _ = worker.assign("child", index: 1)
        _ = worker.handle(.seceded("parent"))
        _ = worker.assign("later", index: 2)
        // The child holds the only slot: the parent waits.
        #expect(worker.handle(.rejoinRequested("parent")).isEmpty)
        #expect(worker.state.rejoining == ["parent"])
        // The child's slot goes to the parent, not to the ready task.
        #expect(
            worker.handle(.executionFinished("child", nbytes: 8, duration: 0.1)) == [
                .reportFinished("child", nbytes: 8, duration: 0.1, inline: true), .rejoin("parent"),
            ])
        #expect(worker.state.records["parent"]?.isSeceded == false)
        #expect(worker.state.records["later"]?.state == .ready)
        #expect(
            worker.handle(.executionFinished("parent", nbytes: 8, duration: 1)) == [
                .reportFinished("parent", nbytes: 8, duration: 1, inline: true), .execute("later"),
            ])
    }

    @Test func rejoinWithAFreeSlotOrWithoutSecedingReturnsAtOnce() {
        var worker = WorkerHarness(threads: 2)
        _ = worker.assign("parent")
        #expect(worker.handle(.rejoinRequested("parent")) == [.rejoin("parent")])  // never seceded
        #expect(worker.handle(.rejoinRequested("unknown")) == [.rejoin("unknown")])
        #expect(worker.handle(.seceded("parent")) == [.reportSeceded("parent")])
        #expect(worker.state.executingCount == 0)
        #expect(worker.handle(.rejoinRequested("parent")) == [.rejoin("parent")])
        #expect(worker.state.executingCount == 1)
    }

    @Test func aSecededTaskThatFinishesFreesNoSlotItDoesNotHold() {
        var worker = WorkerHarness(threads: 1)
        _ = worker.assign("parent", index: 0)
        _ = worker.assign("child", index: 1)
        _ = worker.assign("other", index: 2)
        _ = worker.handle(.seceded("parent"))  // child runs
        // The parent finishes while seceded: the child still holds the one slot.
        #expect(
            worker.handle(.executionFinished("parent", nbytes: 8, duration: 1)) == [
                .reportFinished("parent", nbytes: 8, duration: 1, inline: true)
            ])
        #expect(worker.state.executingCount == 1)
        #expect(
            worker.handle(.executionFinished("child", nbytes: 8, duration: 0.1)) == [
                .reportFinished("child", nbytes: 8, duration: 0.1, inline: true), .execute("other"),
            ])
    }

    @Test func aTaskWaitingToRejoinThatFailsLeavesTheQueue() {
        var worker = WorkerHarness(threads: 1)
        _ = worker.assign("parent", index: 0)
        _ = worker.assign("child", index: 1)
        _ = worker.handle(.seceded("parent"))
        _ = worker.handle(.rejoinRequested("parent"))
        let error = TaskError(kind: .failed, key: "parent", function: "f", message: "boom")
        #expect(worker.handle(.executionFailed("parent", error)) == [.reportFailed(error)])
        #expect(worker.state.rejoining.isEmpty)
        #expect(worker.handle(.executionFinished("child", nbytes: 8, duration: 0.1)).count == 1)
    }

    @Test func pausingHoldsNewTasksButNotARejoin() {
        var worker = WorkerHarness(threads: 1)
        _ = worker.assign("parent", index: 0)
        _ = worker.assign("child", index: 1)
        _ = worker.handle(.seceded("parent"))
        _ = worker.assign("later", index: 2)
        _ = worker.handle(.rejoinRequested("parent"))
        _ = worker.handle(.pauseChanged(true))
        #expect(
            worker.handle(.executionFinished("child", nbytes: 8, duration: 0.1)) == [
                .reportFinished("child", nbytes: 8, duration: 0.1, inline: true), .rejoin("parent"),
            ])
        #expect(worker.state.records["later"]?.state == .ready)
    }

    @Test func aSecededTaskFreedByTheSchedulerIsDroppedWhenItEnds() {
        var worker = WorkerHarness(threads: 1)
        _ = worker.assign("parent")
        _ = worker.handle(.seceded("parent"))
        #expect(worker.handle(.freeRequested(["parent"])).isEmpty)
        #expect(worker.handle(.stealRequested("parent")) == [.answerSteal("parent", started: true)])
        #expect(worker.handle(.rejoinRequested("parent")) == [.rejoin("parent")])
        #expect(worker.handle(.executionFinished("parent", nbytes: 8, duration: 1)) == [.forget("parent")])
        #expect(worker.state.records["parent"] == nil)
    }
}
