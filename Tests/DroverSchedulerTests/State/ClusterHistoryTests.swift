import DroverCore
import DroverScheduler
import Testing

@Suite struct ClusterHistoryTests {
    @Test func aWorkerThatDiesAndRegistersAgainIsRestartedAndKeepsItsCount() {
        var history = ClusterHistory()
        history.workerJoined("w1", address: "h:1", at: 10)
        history.workerExited("w1", cause: "OOM-killed at its 300 MiB limit", kind: .oom, restarts: 1, at: 11)
        history.workerJoined("w1", address: "h:2", at: 12)
        history.workerExited("w1", cause: "killed by signal 9 (SIGKILL)", kind: .signal, restarts: 2, at: 13)
        history.workerJoined("w1", address: "h:3", at: 14)
        history.workerLeft("w1", cause: "retired", at: 15)
        history.workerJoined("w1", address: "h:4", at: 16)
        #expect(
            history.recentEvents.map(\.kind) == [
                .joined, .oomKilled, .restarted, .died, .restarted, .left, .joined,
            ])
        #expect(history.recentEvents.map(\.sequence) == Array(0..<7))
        #expect(history.recentEvents[2].detail == "at h:2 after: OOM-killed at its 300 MiB limit")
        #expect(history.exits["w1"]?.restarts == 2)
        #expect(history.exits["w1"]?.lastCause == "killed by signal 9 (SIGKILL)")
        #expect(history.exits["w1"]?.byKind == ["oom": 1, "signal": 1])
    }

    @Test func restartsCountEveryDeathEvenWhenTheNannysCountLags() {
        var history = ClusterHistory()
        history.workerExited("w1", cause: "exited with code 1", kind: .exit, restarts: 0, at: 1)
        history.workerExited("w1", cause: "exited with code 1", kind: .exit, restarts: 0, at: 2)
        #expect(history.exits["w1"]?.restarts == 2)
    }

    @Test func ringsAreBounded() {
        var history = ClusterHistory(eventCapacity: 5, executionCapacity: 4)
        for index in 0..<50 {
            history.taskErred(
                TaskKey("f-\(index)"), function: "f", worker: "w1", message: "boom", at: Double(index))
            history.taskExecuted(
                TaskKey("f-\(index)"), function: "f", worker: "w1", duration: 0.5, arrivedAt: Double(index))
        }
        #expect(history.recentEvents.count == 5)
        #expect(history.recentEvents.last?.detail == "f 'f-49': boom")
        #expect(history.executions().map(\.key) == ["f-46", "f-47", "f-48", "f-49"])
        #expect(history.executionCursor == 50)
        #expect(history.executions(since: 48).map(\.sequence) == [48, 49])
    }

    @Test func anExecutionStartsItsDurationBeforeItsReportArrived() throws {
        var history = ClusterHistory()
        history.taskExecuted("inc-1", function: "inc", worker: "w1", duration: 1.5, arrivedAt: 100)
        let execution = try #require(history.executions().first)
        #expect(execution.start == 98.5)
        #expect(execution.stop == 100)
        #expect(execution.function == "inc")
        #expect(execution.worker == "w1")
    }
}
