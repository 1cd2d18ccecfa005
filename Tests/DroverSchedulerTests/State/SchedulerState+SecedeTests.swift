import DroverCore
import DroverScheduler
import Testing

/// A task that secedes (Dask's `long-running`) holds no thread of its worker: queued root tasks
/// take its place, and it is never stolen.
@Suite struct SchedulerStateSecedeTests {
    @Test func aSecededTaskMakesRoomForQueuedRootTasks() throws {
        var harness = Harness()
        _ = harness.join("w", threads: 1)
        _ = harness.submit([task("parent")], wants: ["parent"])
        _ = harness.submit([task("c0"), task("c1"), task("c2")], wants: ["c0", "c1", "c2"])
        // One thread, saturation 2: the parent and one child; the rest wait at the scheduler.
        #expect(harness.state.processing(on: "w") == ["parent", "c0"])
        #expect(harness.state(of: "c1") == .queued)
        let actions = harness.handle(.taskSeceded("parent", worker: "w"))
        #expect(actions.count == 1)
        #expect(harness.state.longRunning(on: "w") == ["parent"])
        #expect(harness.state(of: "c1") == .processing)
        #expect(harness.state(of: "c2") == .queued)
        #expect(harness.state.tasks["parent"]?.hasStarted == true)
        // Seceding again, or for a task elsewhere, changes nothing.
        #expect(harness.handle(.taskSeceded("parent", worker: "w")).isEmpty)
        #expect(harness.handle(.taskSeceded("c2", worker: "w")).isEmpty)
        _ = harness.handle(.taskFinished("parent", worker: "w", nbytes: 8, duration: 1))
        #expect(harness.state.longRunning(on: "w") == [])
    }

    @Test func aSecededTaskIsNeverStolen() {
        var harness = Harness()
        _ = harness.join("busy", threads: 1)
        _ = harness.submit([task("parent")], wants: ["parent"], allowed: [:])
        _ = harness.handle(.taskSeceded("parent", worker: "busy"))
        _ = harness.join("idle", threads: 1)
        let actions = harness.handle(.balanceTimerFired)
        #expect(!actions.contains(.requestSteal("busy", "parent")))
        #expect(harness.state.processingOn("parent") == "busy")
    }
}
