import DroverCore
import DroverScheduler
import Testing

@Suite struct ClusterSnapshotBuildingTests {
    @Test func countsTasksByFunctionAndState() throws {
        var harness = Harness()
        _ = harness.join("w1", threads: 4)
        // Two incs, a sum waiting on both, and one that fails.
        _ = harness.submit(
            [
                task("inc-1", function: "inc"), task("inc-2", function: "inc"),
                task("sum", "inc-1", "inc-2", function: "sum"), task("boom", function: "boom"),
            ],
            wants: ["sum", "boom"])
        try #require(harness.state(of: "inc-1") == .processing)
        try #require(harness.state(of: "boom") == .processing)
        _ = harness.handle(.taskFinished("inc-1", worker: "w1", nbytes: 8, duration: 0.1))
        let error = TaskError(kind: .failed, key: "boom", function: "boom", message: "x")
        _ = harness.handle(.taskErred("boom", worker: "w1", error: error))
        let snapshot = ClusterSnapshot(state: harness.state, history: ClusterHistory(), time: 5)
        #expect(snapshot.functions.map(\.function) == ["boom", "inc", "sum"])
        let byName = Dictionary(uniqueKeysWithValues: snapshot.functions.map { ($0.function, $0) })
        #expect(byName["boom"]?.erred == 1)
        #expect(byName["boom"]?.done == 1)
        #expect(byName["inc"]?.total == 2)
        #expect(byName["inc"]?.memory == 1)
        #expect(byName["inc"]?.done == 1)
        #expect(byName["inc"]?.processing == 1)
        #expect(byName["sum"]?.waiting == 1)
        #expect(snapshot.totals.tasks == 4)
        #expect(snapshot.totals.tasksByState.values.reduce(0, +) == 4)
        #expect(Set(snapshot.totals.tasksByState.keys) == Set(ClusterSnapshot.taskStateNames))
        #expect(snapshot.totals.tasksByState["erred"] == 1)
        #expect(snapshot.totals.tasksByState["waiting"] == 1)
        #expect(snapshot.totals.clients == 1)
        #expect(snapshot.time == 5)
    }

    @Test func describesWorkersFromTheirHeartbeatsAndTheirRestarts() throws {
        var harness = Harness()
        _ = harness.handle(
            .workerJoined("w1", address: "h:1", threads: 4, memoryLimit: 1000, nanny: "h:9"))
        _ = harness.handle(
            .workerReported(
                "w1", memoryBytes: 700, managedBytes: 300, spilledBytes: 50, paused: true, executing: 2,
                transfers: .init(incomingCount: 3, incomingBytes: 4096, incomingSeconds: 0.25, outgoingBytes: 512)))
        var history = ClusterHistory()
        history.workerExited("w1", cause: "OOM-killed at its 1000 B limit", kind: .oom, restarts: 1, at: 1)
        let snapshot = ClusterSnapshot(state: harness.state, history: history, time: 2)
        let worker = try #require(snapshot.workers.first)
        #expect(worker.id == "w1")
        #expect(worker.address == "h:1")
        #expect(worker.threads == 4)
        #expect(worker.memoryLimit == 1000)
        #expect(worker.managedBytes == 300)
        #expect(worker.unmanagedBytes == 400)
        #expect(worker.spilledBytes == 50)
        #expect(worker.status == "paused")
        #expect(worker.executing == 2)
        #expect(worker.transfers.incomingBytes == 4096)
        #expect(worker.transfers.outgoingBytes == 512)
        #expect(worker.restarts == 1)
        #expect(worker.lastExitCause == "OOM-killed at its 1000 B limit")
        #expect(worker.restartsByKind == ["oom": 1])
        #expect(snapshot.totals.memoryLimit == 1000)
        #expect(snapshot.totals.restarts == 1)
    }

    @Test func carriesOnlyTheExecutionsSinceTheCursor() {
        var history = ClusterHistory(executionCapacity: 3)
        for index in 0..<5 {
            history.taskExecuted(TaskKey("k\(index)"), function: "f", worker: "w1", duration: 1, arrivedAt: 10)
        }
        let state = SchedulerState()
        let first = ClusterSnapshot(state: state, history: history, time: 0)
        #expect(first.taskStream.map(\.key) == ["k2", "k3", "k4"])
        #expect(first.taskStreamCursor == 5)
        history.taskExecuted("k5", function: "f", worker: "w1", duration: 1, arrivedAt: 11)
        let next = ClusterSnapshot(state: state, history: history, time: 0, taskStreamSince: first.taskStreamCursor)
        #expect(next.taskStream.map(\.key) == ["k5"])
    }
}
