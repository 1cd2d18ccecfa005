import DroverCore
import DroverScheduler
import Testing

/// Workers with nannies: deaths explained by the nanny, and graceful retirement.
@Suite struct SchedulerStateNannyTests {
    private func joinSupervised(_ harness: inout Harness, _ id: WorkerID, threads: Int = 1) -> [Action] {
        harness.handle(
            .workerJoined(id, address: "tcp://\(id)", threads: threads, memoryLimit: 1 << 28, nanny: "tcp://nanny"))
    }

    private func replications(_ actions: [Action]) -> [WorkerID: [TaskKey: [String]]] {
        var result: [WorkerID: [TaskKey: [String]]] = [:]
        for case .replicate(let worker, let keys) in actions { result[worker, default: [:]].merge(keys) { $1 } }
        return result
    }

    // MARK: - Deaths

    @Test func aSupervisedWorkerWhoseStreamEndsWaitsForItsNanny() throws {
        var harness = Harness()
        _ = joinSupervised(&harness, "w1")
        _ = harness.submit([task("a")], wants: ["a"])
        let actions = harness.handle(.workerDisconnected("w1", cause: "its connection closed"))
        let incarnation = try #require(harness.state.workers["w1"]?.incarnation)
        #expect(actions == [.awaitExitReport("w1", incarnation: incarnation, cause: "its connection closed")])
        #expect(harness.state.workers["w1"]?.status == .closing)
        #expect(harness.state(of: "a") == .processing)
        // Nothing new goes to it meanwhile.
        _ = harness.submit([task("b")], wants: ["b"])
        #expect(harness.state(of: "b") != .processing)
        // The nanny's word removes it with that cause.
        _ = harness.handle(.workerExited("w1", address: "tcp://w1", cause: "OOM-killed at its 256 MiB limit"))
        #expect(harness.state.workers["w1"] == nil)
        #expect(
            harness.state.tasks["a"]?.killedWorkers == [
                WorkerDeath(worker: "w1", cause: "OOM-killed at its 256 MiB limit")
            ])
    }

    @Test func aWorkerWithoutANannyLeavesAtOnce() {
        var harness = Harness()
        _ = harness.join("w1")
        _ = harness.submit([task("a")], wants: ["a"])
        let actions = harness.handle(.workerDisconnected("w1", cause: "its connection closed"))
        #expect(actions == [.workerRemoved("w1", cause: "its connection closed")])
        #expect(harness.state.workers["w1"] == nil)
        #expect(harness.state.tasks["a"]?.killedWorkers.map(\.cause) == ["its connection closed"])
    }

    @Test func theNannysReportMayComeBeforeTheStreamEnds() {
        var harness = Harness()
        _ = joinSupervised(&harness, "w1")
        _ = harness.submit([task("a")], wants: ["a"])
        _ = harness.handle(.workerExited("w1", address: "tcp://w1", cause: "killed by signal 9 (SIGKILL)"))
        #expect(harness.state.workers["w1"] == nil)
        #expect(harness.handle(.workerDisconnected("w1", cause: "its connection closed")).isEmpty)
        #expect(harness.state.tasks["a"]?.killedWorkers.map(\.cause) == ["killed by signal 9 (SIGKILL)"])
    }

    @Test func aReportForAnotherAddressOrAnOverdueTimerOfAnEarlierRegistrationChangesNothing() throws {
        var harness = Harness()
        _ = joinSupervised(&harness, "w1")
        let first = try #require(harness.state.workers["w1"]?.incarnation)
        _ = harness.handle(.workerDisconnected("w1", cause: "its connection closed"))
        // The same name registers again (restarted) before the timer fires.
        _ = joinSupervised(&harness, "w1")
        #expect(harness.state.workers["w1"]?.status == .running)
        #expect(harness.handle(.exitReportOverdue("w1", incarnation: first, cause: "late")).isEmpty)
        #expect(harness.handle(.workerExited("w1", address: "tcp://elsewhere", cause: "stale")).isEmpty)
        #expect(harness.state.workers["w1"] != nil)
        let second = try #require(harness.state.workers["w1"]?.incarnation)
        #expect(second != first)
        _ = harness.handle(.workerDisconnected("w1", cause: "its connection closed"))
        _ = harness.handle(.exitReportOverdue("w1", incarnation: second, cause: "its connection closed; no word"))
        #expect(harness.state.workers["w1"] == nil)
    }

    @Test func threeOOMDeathsReportedByTheNannyErrWithKilledWorkerNamingTheCause() throws {
        var harness = Harness()
        var actions: [Action] = []
        _ = harness.submit([task("big")], wants: ["big"])
        for _ in 1...3 {
            actions = joinSupervised(&harness, "w1")
            #expect(computedKeys(actions, on: "w1") == ["big"])
            actions = harness.handle(
                .workerExited("w1", address: "tcp://w1", cause: "OOM-killed at its 300 MiB limit (peak 300 MiB)"))
        }
        let notices = actions.filter { if case .notify = $0 { true } else { false } }
        guard case .notify("c1", .erred("big", let error)) = try #require(notices.last) else {
            Issue.record("expected KilledWorker, got \(actions)")
            return
        }
        #expect(error.kind == .killedWorker)
        #expect(error.message.contains("3 times"))
        #expect(error.message.contains("OOM-killed at its 300 MiB limit"))
    }

    @Test func pauseAndResumeFromHeartbeatsDoNotReviveAClosingWorker() {
        var harness = Harness()
        _ = joinSupervised(&harness, "w1")
        _ = harness.handle(.workerReported("w1", memoryBytes: 900, paused: true))
        #expect(harness.state.workers["w1"]?.status == .paused)
        // A paused worker gets nothing new; on resuming it takes what waited.
        _ = harness.submit([task("b")], wants: ["b"], allowed: ["b": ["w1"]])
        #expect(harness.state(of: "b") == .noWorker)
        let resumed = harness.handle(.workerReported("w1", memoryBytes: 100, paused: false))
        #expect(harness.state.workers["w1"]?.status == .running)
        #expect(computedKeys(resumed, on: "w1") == ["b"])
        _ = harness.handle(.workerRetiring("w1"))
        _ = harness.handle(.workerReported("w1", memoryBytes: 900, paused: true))
        _ = harness.handle(.workerReported("w1", memoryBytes: 100, paused: false))
        #expect(harness.state.workers["w1"]?.status == .closing)
    }

    @Test func heartbeatsRecordMemory() {
        var harness = Harness()
        _ = harness.join("w1")
        _ = harness.handle(.workerReported("w1", memoryBytes: 300, managedBytes: 200, spilledBytes: 100))
        #expect(harness.state.workers["w1"]?.memoryBytes == 300)
        #expect(harness.state.workers["w1"]?.reportedManagedBytes == 200)
        #expect(harness.state.workers["w1"]?.spilledBytes == 100)
    }

    @Test func heartbeatsRecordExecutingTasksAndTransfers() {
        var harness = Harness()
        _ = harness.join("w1")
        let transfers = WorkerRecord.Transfers(
            incomingCount: 2, incomingBytes: 1 << 20, incomingSeconds: 0.5, outgoingBytes: 1 << 10)
        let actions = harness.handle(.workerReported("w1", memoryBytes: 300, executing: 1, transfers: transfers))
        #expect(actions.isEmpty)
        #expect(harness.state.workers["w1"]?.executing == 1)
        #expect(harness.state.workers["w1"]?.transfers == transfers)
        // A heartbeat from a worker that left changes nothing.
        #expect(harness.handle(.workerReported("gone", memoryBytes: 1, executing: 4, transfers: transfers)).isEmpty)
        #expect(harness.state.workers["gone"] == nil)
    }

    // MARK: - Retirement

    /// "a" (8 bytes, wanted by c1) held by w1 only, and w2 joined after.
    private func resultOnW1ThenW2Joins() -> Harness {
        var harness = Harness()
        _ = harness.join("w1")
        _ = harness.submit([task("a")], wants: ["a"])
        _ = harness.handle(.taskFinished("a", worker: "w1", nbytes: 8, duration: 0.1))
        _ = harness.join("w2")
        return harness
    }

    @Test func aRetiringWorkersOnlyCopiesMoveBeforeItCloses() {
        var harness = Harness()
        _ = harness.join("w1")
        _ = harness.submit([task("a")], wants: ["a"])
        _ = harness.handle(.taskFinished("a", worker: "w1", nbytes: 64, duration: 0.1))
        _ = harness.join("w2")
        let actions = harness.handle(.workerRetiring("w1"))
        #expect(replications(actions) == ["w2": ["a": ["tcp://w1"]]])
        #expect(!actions.contains(.close("w1", reason: "retired")))
        // Nothing new goes to a retiring worker.
        _ = harness.submit([task("b")], wants: ["b"])
        #expect(harness.state.processingOn("b") == "w2")
        let done = harness.handle(.keysAcquired("w2", ["a": 64]))
        #expect(done.contains(.close("w1", reason: "retired")))
        // The client hears of the new copy first.
        #expect(done.contains(.notify("c1", .inMemory("a", nbytes: 64, holders: ["tcp://w2", "tcp://w1"]))))
        #expect(harness.state.whoHas("a") == ["w1", "w2"])
        // Its stream then ends: nothing is lost.
        let left = harness.handle(.workerDisconnected("w1", cause: "its connection closed"))
        #expect(!left.contains(.notify("c1", .lost("a"))))
        #expect(harness.state(of: "a") == .memory)
    }

    @Test func aRetiringWorkerFinishesWhatItRunsAndMovesThatResultToo() {
        var harness = Harness()
        _ = harness.join("w1")
        _ = harness.submit([task("a")], wants: ["a"])
        _ = harness.join("w2")
        let retiring = harness.handle(.workerRetiring("w1"))
        #expect(!retiring.contains(.close("w1", reason: "retired")))
        #expect(replications(retiring).isEmpty)
        let finished = harness.handle(.taskFinished("a", worker: "w1", nbytes: 8, duration: 0.1))
        #expect(replications(finished) == ["w2": ["a": ["tcp://w1"]]])
        #expect(harness.handle(.keysAcquired("w2", ["a": 8])).contains(.close("w1", reason: "retired")))
    }

    @Test func aResultSomeoneElseAlsoHoldsOrNobodyNeedsStaysBehind() {
        var harness = Harness()
        _ = harness.join("w1")
        _ = harness.submit([task("a"), task("b")], wants: ["a", "b"])
        _ = harness.handle(.taskFinished("a", worker: "w1", nbytes: 8, duration: 0.1))
        _ = harness.handle(.taskFinished("b", worker: "w1", nbytes: 8, duration: 0.1))
        _ = harness.handle(.keysReleased("c1", ["b"]))
        _ = harness.join("w2")
        _ = harness.handle(.keysAcquired("w2", ["a": 8]))  // w2 has a copy of a already
        let actions = harness.handle(.workerRetiring("w1"))
        #expect(replications(actions).isEmpty)
        #expect(actions.contains(.close("w1", reason: "retired")))
    }

    @Test func aCopyWhoseTargetLeavesGoesToAnotherWorker() {
        var harness = resultOnW1ThenW2Joins()
        _ = harness.handle(.workerRetiring("w1"))
        _ = harness.join("w3")
        let actions = harness.handle(.workerLeft("w2", cause: "killed"))
        #expect(replications(actions) == ["w3": ["a": ["tcp://w1"]]])
    }

    @Test func theLastWorkerRetiresAtOnce() {
        var harness = Harness()
        _ = harness.join("w1")
        _ = harness.submit([task("a")], wants: ["a"])
        _ = harness.handle(.taskFinished("a", worker: "w1", nbytes: 8, duration: 0.1))
        let actions = harness.handle(.workerRetiring("w1"))
        #expect(actions.contains(.close("w1", reason: "retired")))
    }

    @Test func aCopyOfAKeyReleasedMeanwhileIsFreed() {
        var harness = resultOnW1ThenW2Joins()
        _ = harness.handle(.workerRetiring("w1"))
        _ = harness.handle(.keysReleased("c1", ["a"]))
        let actions = harness.handle(.keysAcquired("w2", ["a": 8]))
        #expect(actions.contains(.free("w2", ["a"])))
        #expect(harness.state.held(by: "w2").isEmpty)
    }
}

/// Which tasks a dead worker is blamed for.
@Suite struct SchedulerStateSuspectTests {
    @Test func onlyStartedTasksCountAgainstADeadWorker() {
        var harness = Harness()
        _ = harness.join("w1", threads: 1)
        _ = harness.submit([task("a"), task("b")], wants: ["a", "b"], allowed: ["a": ["w1"], "b": ["w1"]])
        _ = harness.handle(.tasksStarted("w1", ["a"]))
        #expect(harness.state.tasks["a"]?.hasStarted == true)
        #expect(harness.state.tasks["b"]?.hasStarted == false)
        _ = harness.join("w2")
        _ = harness.handle(.workerLeft("w1", cause: "killed"))
        #expect(harness.state.tasks["a"]?.killedWorkers.count == 1)
        #expect(harness.state.tasks["b"]?.killedWorkers.isEmpty == true)
    }

    @Test func whenNothingWasSaidToHaveStartedEveryTaskIsASuspect() {
        var harness = Harness()
        _ = harness.join("w1", threads: 1)
        _ = harness.submit([task("a"), task("b")], wants: ["a", "b"], allowed: ["a": ["w1"], "b": ["w1"]])
        _ = harness.handle(.workerLeft("w1", cause: "crashed at once"))
        #expect(harness.state.tasks["a"]?.killedWorkers.count == 1)
        #expect(harness.state.tasks["b"]?.killedWorkers.count == 1)
    }

    @Test func aStartReportFromAnotherWorkerOrAfterReassignmentIsIgnored() {
        var harness = Harness()
        _ = harness.join("w1")
        _ = harness.join("w2")
        _ = harness.submit([task("a")], wants: ["a"], allowed: ["a": ["w1"]])
        _ = harness.handle(.tasksStarted("w2", ["a"]))
        #expect(harness.state.tasks["a"]?.hasStarted == false)
        _ = harness.handle(.tasksStarted("w1", ["a"]))
        _ = harness.handle(.workerLeft("w1", cause: "killed"))
        #expect(harness.state.tasks["a"]?.hasStarted == false)
    }
}
