import DroverCore
import Testing

@testable import DroverScheduler

/// Deadlines, with time as a value: no test here sleeps.
@Suite struct SchedulerStateLivenessTests {
    private func configuration(ttl: Duration? = .seconds(10)) -> SchedulerState.Configuration {
        var configuration = SchedulerState.Configuration()
        configuration.workerTTL = ttl
        return configuration
    }

    /// Ticks every 250 ms from `harness.now` up to `end`, with heartbeats from `alive` every second;
    /// returns every action.
    private func run(_ harness: inout Harness, until end: Duration, alive: [WorkerID]) -> [Action] {
        var actions: [Action] = []
        while harness.now < end {
            harness.now += .milliseconds(250)
            if harness.now.components.attoseconds == 0 {
                for id in alive { actions += harness.handle(.workerReported(id, memoryBytes: 1)) }
            }
            actions += harness.handle(.clockTicked)
        }
        return actions
    }

    @Test func aSilentWorkerIsRemovedAfterItsTTLAndItsWorkGoesElsewhere() throws {
        var harness = Harness(configuration: configuration())
        _ = harness.handle(.workerJoined("w1", address: "tcp://w1", threads: 1, memoryLimit: 0, nanny: "nanny:1"))
        _ = harness.join("w2")
        // "held" is computed on w1 and only w1 holds it; "run" is running on w1.
        _ = harness.submit([task("held")], wants: ["held"], allowed: ["held": ["w1"]])
        _ = harness.handle(.taskFinished("held", worker: "w1", nbytes: 8, duration: 0.1))
        _ = harness.submit([task("run")], wants: ["run"], allowed: ["run": ["w1", "w2"]])
        #expect(harness.state.processingOn("run") == "w1")  // both idle: the tie goes to w1
        let early = run(&harness, until: .seconds(10), alive: ["w2"])
        #expect(!early.contains { if case .disconnect = $0 { true } else { false } })
        #expect(harness.state.workers["w1"] != nil)

        let late = run(&harness, until: .seconds(11), alive: ["w2"])
        #expect(harness.state.workers["w1"] == nil)
        let disconnect = try #require(
            late.first { if case .disconnect("w1", _) = $0 { true } else { false } })
        guard case .disconnect(_, let reason) = disconnect else { return }
        #expect(reason.contains("not heard from"))
        #expect(reason.contains("worker TTL 10.0 s"))
        #expect(late.contains(.killWorker("w1", address: "tcp://w1", nanny: "nanny:1", reason: reason)))
        // Its only copy is lost: the client hears so, and the scheduler recomputes it where allowed.
        #expect(late.contains(.notify("c1", .lost("held"))))
        #expect(harness.state(of: "held") == .noWorker)  // only w1 may run it, and w1 is gone
        #expect(computedKeys(late, on: "w2") == ["run"])
        #expect(harness.state.workers["w2"] != nil)
    }

    @Test func heartbeatsKeepAWorkerAndAWorkerWithoutANannyIsOnlyDisconnected() {
        var harness = Harness(configuration: configuration())
        _ = harness.join("w1")
        _ = harness.join("w2")
        let actions = run(&harness, until: .seconds(30), alive: ["w1"])
        #expect(harness.state.workers["w1"] != nil)
        #expect(harness.state.workers["w2"] == nil)
        #expect(!actions.contains { if case .killWorker = $0 { true } else { false } })
    }

    @Test func anyMessageFromAWorkerCountsAsLife() {
        var harness = Harness(configuration: configuration())
        _ = harness.join("w1")
        _ = harness.submit((0..<40).map { task(TaskKey("t\($0)")) }, wants: [])
        for second in 1...30 {
            harness.now = .seconds(second)
            _ = harness.handle(.tasksStarted("w1", []))
            _ = harness.handle(.clockTicked)
        }
        #expect(harness.state.workers["w1"] != nil)
    }

    @Test func aStalledSchedulerBlamesNoWorker() {
        var harness = Harness(configuration: configuration())
        _ = harness.join("w1")
        _ = harness.handle(.clockTicked)
        // The scheduler did not run for 30 s: the first tick after it removes nobody...
        harness.now = .seconds(30)
        _ = harness.handle(.clockTicked)
        #expect(harness.state.workers["w1"] != nil)
        // ...and the worker gets a whole TTL from then.
        _ = run(&harness, until: .seconds(40), alive: [])
        #expect(harness.state.workers["w1"] != nil)
        _ = run(&harness, until: .seconds(41), alive: [])
        #expect(harness.state.workers["w1"] == nil)
    }

    @Test func noTTLNeverRemovesAWorker() {
        var harness = Harness(configuration: configuration(ttl: nil))
        _ = harness.join("w1")
        _ = run(&harness, until: .seconds(600), alive: [])
        #expect(harness.state.workers["w1"] != nil)
    }

    @Test func aWorkerRemovedAndBackRegistersAfresh() {
        var harness = Harness(configuration: configuration())
        _ = harness.join("w1")
        _ = harness.submit([task("a")], wants: ["a"])
        _ = run(&harness, until: .seconds(11), alive: [])
        #expect(harness.state.workers["w1"] == nil)
        #expect(harness.state(of: "a") == .noWorker)
        // It comes back (SIGCONT) and registers again: it gets the task anew, once.
        let rejoined = harness.join("w1")
        #expect(computedKeys(rejoined, on: "w1") == ["a"])
        let done = harness.handle(.taskFinished("a", worker: "w1", nbytes: 8, duration: 0.1))
        #expect(done == [.notify("c1", .inMemory("a", nbytes: 8, holders: ["tcp://w1"]))])
        #expect(harness.handle(.taskFinished("a", worker: "w1", nbytes: 8, duration: 0.1)).isEmpty)
        #expect(harness.state.workers["w1"]?.managedBytes == 8)
    }

    @Test func anUnansweredStealIsCarriedOutAfterItsDeadline() throws {
        var harness = Harness(configuration: configuration(ttl: nil))
        _ = harness.join("w1")
        _ = harness.submit(
            [task("big")] + (0..<4).map { task(TaskKey("use-\($0)"), "big") },
            wants: (0..<4).map { TaskKey("use-\($0)") })
        _ = harness.handle(.taskFinished("big", worker: "w1", nbytes: 1 << 33, duration: 1))
        let joined = harness.join("w2")
        #expect(joined.contains(.requestSteal("w1", "use-3")))
        harness.now = .seconds(2)
        #expect(harness.handle(.clockTicked).isEmpty)  // not yet overdue
        harness.now = .milliseconds(2001)
        let forced = harness.handle(.clockTicked)
        #expect(forced.contains(.free("w1", ["use-3"])))
        #expect(computedKeys(forced, on: "w2") == ["use-3"])
        #expect(harness.state.processingOn("use-3") == "w2")
        // The victim's late answer changes nothing.
        #expect(harness.handle(.stealAnswered("use-3", worker: "w1", started: false)).isEmpty)
    }

    @Test func anUnansweredStealWhoseThiefLeftIsCarriedOutAfterItsDeadline() throws {
        var harness = Harness(configuration: configuration(ttl: nil))
        #expect(harness.stealFromTheOnlyWorker().contains(.requestSteal("w1", "use-3")))
        _ = harness.handle(.workerLeft("w2", cause: "killed by signal 9"))
        harness.now = .milliseconds(2001)
        let forced = harness.handle(.clockTicked)
        // The victim may have dropped it already: it is told to, and gets it again.
        let free = try #require(forced.firstIndex(of: .free("w1", ["use-3"])))
        let again = try #require(
            forced.firstIndex {
                if case .compute("w1", let assignment) = $0 { assignment.spec.key == "use-3" } else { false }
            })
        #expect(free < again)
        #expect(harness.state.processingOn("use-3") == "w1")
    }

    @Test func anUnansweredStealOfAStartedTaskIsDropped() {
        var harness = Harness(configuration: configuration(ttl: nil))
        _ = harness.join("w1")
        _ = harness.submit(
            [task("big")] + (0..<4).map { task(TaskKey("use-\($0)"), "big") },
            wants: (0..<4).map { TaskKey("use-\($0)") })
        _ = harness.handle(.taskFinished("big", worker: "w1", nbytes: 1 << 33, duration: 1))
        _ = harness.join("w2")
        _ = harness.handle(.tasksStarted("w1", ["use-3"]))
        harness.now = .seconds(3)
        let forced = harness.handle(.clockTicked)
        #expect(!forced.contains(.free("w1", ["use-3"])))
        #expect(harness.state.processingOn("use-3") == "w1")
        #expect(harness.state.tasks["use-3"]?.stealingTo == nil)
    }

    @Test func onlyTheNannyAWorkerRegisteredUnderMayReportItsExit() {
        var harness = Harness()
        _ = harness.handle(.workerJoined("w1", address: "tcp://w1", threads: 1, memoryLimit: 0, nanny: "nanny:1"))
        _ = harness.join("plain")
        #expect(harness.state.acceptsExitReport(for: "w1", fromNanny: "nanny:1"))
        #expect(!harness.state.acceptsExitReport(for: "w1", fromNanny: "nanny:2"))
        #expect(!harness.state.acceptsExitReport(for: "w1", fromNanny: ""))
        #expect(!harness.state.acceptsExitReport(for: "plain", fromNanny: ""))
        #expect(!harness.state.acceptsExitReport(for: "ghost", fromNanny: "nanny:1"))
        // After it left, its nanny may still report why (the report can come after the removal).
        _ = harness.handle(.workerLeft("w1", cause: "gone"))
        #expect(harness.state.acceptsExitReport(for: "w1", fromNanny: "nanny:1"))
    }
}
