import DroverCore
import DroverScheduler
import Testing

/// What the state says of workers for the shell to record and announce: departures, pauses, tasks
/// that killed their workers, and the wait for a nanny's report as a deadline.
@Suite struct SchedulerStateWorkersTests {
    private func joinSupervised(_ harness: inout Harness, _ id: WorkerID) {
        _ = harness.handle(
            .workerJoined(
                id, address: "tcp://\(id)", threads: 1, memoryLimit: 1 << 28, nanny: "tcp://nanny"))
    }

    @Test func everyDepartureIsSaidOnceWithItsCause() {
        var harness = Harness()
        _ = harness.join("w1")
        _ = harness.join("w2")
        #expect(
            harness.handle(.workerLeft("w1", cause: "connection lost")) == [
                .workerRemoved("w1", cause: "connection lost")
            ])
        #expect(harness.handle(.workerLeft("w1", cause: "again")).isEmpty)
        // A worker that registers again left first, with that cause.
        #expect(harness.join("w2").contains(.workerRemoved("w2", cause: "it registered again")))
    }

    @Test func aRetiredWorkerDepartsAsRetired() {
        var harness = Harness()
        _ = harness.join("w1")
        _ = harness.join("w2")
        let actions = harness.handle(.workerRetiring("w1"))
        #expect(actions.contains(.close("w1", reason: "retired")))
        #expect(
            harness.handle(.workerDisconnected("w1", cause: "closed")) == [
                .workerRemoved("w1", cause: "retired")
            ])
    }

    @Test func pauseAndResumeAreSaidOnlyWhenTheyChange() {
        var harness = Harness()
        _ = harness.join("w1")
        #expect(harness.handle(.workerReported("w1", memoryBytes: 1, paused: false)).isEmpty)
        #expect(
            harness.handle(.workerReported("w1", memoryBytes: 1, paused: true)) == [
                .workerPauseChanged("w1", paused: true)
            ])
        #expect(harness.handle(.workerReported("w1", memoryBytes: 1, paused: true)).isEmpty)
        #expect(harness.handle(.workerPaused("w1")).isEmpty)
        #expect(harness.handle(.workerResumed("w1")) == [.workerPauseChanged("w1", paused: false)])
        #expect(harness.handle(.workerReported("w1", memoryBytes: 1, paused: false)).isEmpty)
        // A closing worker neither pauses nor resumes.
        _ = harness.handle(.workerRetiring("w1"))
        #expect(
            !harness.handle(.workerReported("w1", memoryBytes: 1, paused: true)).contains { action in
                if case .workerPauseChanged = action { true } else { false }
            })
    }

    @Test func aTaskThatKillsItsWorkersIsSaidOnceHoweverManyClientsWantIt() {
        var harness = Harness(
            configuration: {
                var c = SchedulerState.Configuration()
                c.allowedFailures = 1
                return c
            }())
        _ = harness.join("w1")
        _ = harness.submit([task("boom")], wants: ["boom"], client: "c1")
        _ = harness.submit([], wants: ["boom"], client: "c2")
        _ = harness.handle(.tasksStarted("w1", ["boom"]))
        let actions = harness.handle(.workerLeft("w1", cause: "killed by signal 9"))
        let said = actions.filter { if case .taskKilledWorkers("boom", _) = $0 { true } else { false } }
        #expect(said.count == 1)
        let told = actions.filter { if case .notify(_, .erred("boom", _)) = $0 { true } else { false } }
        #expect(told.count == 2)
    }

    @Test func theWaitForANannysReportEndsAtItsDeadline() {
        var harness = Harness()
        joinSupervised(&harness, "w1")
        _ = harness.submit([task("a")], wants: ["a"])
        _ = harness.handle(.workerDisconnected("w1", cause: "its connection closed"))
        harness.now = .milliseconds(1_750)
        #expect(harness.handle(.clockTicked).isEmpty)
        #expect(harness.state.workers["w1"]?.status == .closing)
        harness.now = .milliseconds(2_000)
        let actions = harness.handle(.clockTicked)
        let cause = "its connection closed; its nanny did not say why within 2.0 seconds"
        #expect(actions.last == .workerRemoved("w1", cause: cause))
        #expect(harness.state.workers["w1"] == nil)
        #expect(harness.state.tasks["a"]?.killedWorkers == [WorkerDeath(worker: "w1", cause: cause)])
        harness.now = .seconds(10)
        #expect(harness.handle(.clockTicked).isEmpty)
    }

    @Test func aNannysReportOrARegistrationEndsTheWait() {
        var harness = Harness()
        joinSupervised(&harness, "w1")
        _ = harness.handle(.workerDisconnected("w1", cause: "its connection closed"))
        _ = harness.handle(.workerExited("w1", address: "tcp://w1", cause: "OOM-killed"))
        joinSupervised(&harness, "w1")
        _ = harness.handle(.workerDisconnected("w1", cause: "its connection closed"))
        joinSupervised(&harness, "w1")  // back before its nanny spoke
        harness.now = .seconds(5)
        #expect(harness.handle(.clockTicked).isEmpty)
        #expect(harness.state.workers["w1"]?.status == .running)
    }
}
