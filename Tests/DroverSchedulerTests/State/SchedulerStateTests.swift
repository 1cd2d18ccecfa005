import DroverCore
import DroverScheduler
import DroverTestKit
import Foundation
import Testing

typealias Action = SchedulerState.Action

/// Drives a state machine and checks its invariants after every event.
struct Harness {
    var state: SchedulerState
    /// The time the next event happens at (``SchedulerState/now``).
    var now: Duration = .zero

    init(configuration: SchedulerState.Configuration = .init()) {
        state = SchedulerState(configuration: configuration)
    }

    @discardableResult
    mutating func handle(_ event: SchedulerState.Event, sourceLocation: SourceLocation = #_sourceLocation) -> [Action] {
        let actions = state.handle(event, now: now)
        do {
            try state.checkInvariants()
        } catch {
            Issue.record("invariant broken after \(event): \(error)", sourceLocation: sourceLocation)
        }
        return actions
    }

    mutating func join(_ id: WorkerID, threads: Int = 1) -> [Action] {
        handle(.workerJoined(id, address: "tcp://\(id)", threads: threads, memoryLimit: 1 << 30))
    }

    mutating func submit(
        _ tasks: [TaskSpec],
        wants: [TaskKey],
        client: ClientID = "c1",
        allowed: [TaskKey: Set<String>] = [:],
        retries: Int = 0
    ) -> [Action] {
        handle(
            .graphSubmitted(
                client,
                tasks: tasks.map { .init(spec: $0, allowedWorkers: allowed[$0.key] ?? [], retries: retries) },
                wants: wants
            )
        )
    }

    func state(of key: TaskKey) -> TaskRecord.State? { state.tasks[key]?.state }
}

func task(_ key: TaskKey, _ dependencies: TaskKey..., function: String = "f") -> TaskSpec {
    TaskSpec(key: key, function: function, arguments: dependencies.map { .key($0) })
}

/// The compute actions in `actions`, as (worker, key).
func computes(_ actions: [Action]) -> [(WorkerID, TaskKey)] {
    actions.compactMap {
        if case .compute(let worker, let assignment) = $0 { (worker, assignment.spec.key) } else { nil }
    }
}

func computedKeys(_ actions: [Action], on worker: WorkerID) -> [TaskKey] {
    computes(actions).filter { $0.0 == worker }.map(\.1)
}

@Suite struct SchedulerStateTests {
    // MARK: - Placement

    @Test func aTaskRunsAndItsClientHearsWhereTheResultIs() throws {
        var harness = Harness()
        _ = harness.join("w1")
        let actions = harness.submit([task("a")], wants: ["a"])
        #expect(computedKeys(actions, on: "w1") == ["a"])
        #expect(harness.state(of: "a") == .processing)
        let done = harness.handle(.taskFinished("a", worker: "w1", nbytes: 8, duration: 0.1))
        #expect(done == [.notify("c1", .inMemory("a", nbytes: 8, holders: ["tcp://w1"]))])
        #expect(harness.state(of: "a") == .memory)
    }

    @Test func dependentsRunWhereTheirLargeInputIs() throws {
        var harness = Harness()
        _ = harness.join("w1")
        _ = harness.join("w2")
        let first = harness.submit([task("big"), task("use", "big")], wants: ["use"])
        let (holder, _) = try #require(computes(first).first)
        let done = harness.handle(.taskFinished("big", worker: holder, nbytes: 1 << 30, duration: 1))
        #expect(computedKeys(done, on: holder) == ["use"])
        guard
            case .compute(_, let assignment) = try #require(
                done.first(where: { if case .compute = $0 { true } else { false } }))
        else {
            return
        }
        #expect(assignment.whoHas == ["big": ["tcp://\(holder)"]])
    }

    /// Inputs a worker of the same host holds move over shared memory: placement counts them at
    /// that rate, so a dependent whose input's holder cannot take it goes to the holder's
    /// host-mate, not to a worker elsewhere that sorts first.
    @Test(arguments: [true, false])
    func aDependentPrefersTheHostOfItsInput(hostsKnown: Bool) throws {
        var harness = Harness()
        for (id, host) in [("holder", "h1"), ("w-far", "h2"), ("w-near", "h1")] {
            harness.handle(
                .workerJoined(
                    WorkerID(id), address: "tcp://\(id)", threads: 1, memoryLimit: 1 << 30,
                    host: hostsKnown ? host : ""))
        }
        _ = harness.submit([task("big"), task("use", "big")], wants: ["use"], allowed: ["big": ["holder"]])
        // The holder is paused (it takes nothing new) before its result is in.
        harness.handle(.workerReported("holder", memoryBytes: 1, paused: true))
        let done = harness.handle(.taskFinished("big", worker: "holder", nbytes: 1 << 30, duration: 1))
        let placed = try #require(computes(done).first { $0.1 == "use" })
        // Without hosts the two others tie, and the id decides.
        #expect(placed.0 == (hostsKnown ? "w-near" : "w-far"))
    }

    @Test func independentWorkSpreadsByOccupancy() {
        var harness = Harness()
        _ = harness.join("w1", threads: 2)
        _ = harness.join("w2", threads: 2)
        let actions = harness.submit((0..<4).map { task(TaskKey("t\($0)")) }, wants: (0..<4).map { TaskKey("t\($0)") })
        #expect(computedKeys(actions, on: "w1").count == 2)
        #expect(computedKeys(actions, on: "w2").count == 2)
    }

    @Test func rootTasksQueueBeyondWorkerSaturation() {
        var harness = Harness()
        _ = harness.join("w1", threads: 2)
        let keys = (0..<10).map { TaskKey("root-\($0)") }
        let actions = harness.submit(keys.map { task($0) }, wants: keys)
        // ceil(2 threads × 1.1) = 3 tasks on the worker, the rest queued in priority order.
        #expect(computedKeys(actions, on: "w1") == Array(keys[0..<3]))
        #expect(keys[3...].allSatisfy { harness.state(of: $0) == .queued })
        let next = harness.handle(.taskFinished(keys[1], worker: "w1", nbytes: 8, duration: 0.01))
        #expect(computedKeys(next, on: "w1") == [keys[3]])
    }

    @Test func quickRootTasksQueueDeeperOnTheWorker() {
        var harness = Harness()
        _ = harness.join("w1", threads: 1)
        let keys = (0..<1000).map { TaskKey("root-\($0)") }
        _ = harness.submit(keys.map { task($0) }, wants: keys)
        // Unknown durations count half a second: saturation alone (2 tasks) holds.
        #expect(harness.state.workers["w1"]?.processingCount == 2)
        _ = harness.handle(.taskFinished(keys[0], worker: "w1", nbytes: 8, duration: 0.000_001))
        _ = harness.handle(.taskFinished(keys[1], worker: "w1", nbytes: 8, duration: 0.000_001))
        // Seen to take a microsecond: the worker gets up to 256 of them, so none waits for a round trip.
        #expect(harness.state.workers["w1"]?.processingCount == 256)
        #expect(harness.state.workers["w1"]!.occupancy < 0.001)
    }

    @Test func queuedTasksGoToAJoiningWorker() {
        var harness = Harness()
        _ = harness.join("w1")
        let keys = (0..<6).map { TaskKey("root-\($0)") }
        _ = harness.submit(keys.map { task($0) }, wants: keys)
        let joined = harness.join("w2")
        #expect(computedKeys(joined, on: "w2") == [keys[2], keys[3]])
    }

    @Test func withoutWorkersTasksWaitForOne() {
        var harness = Harness()
        _ = harness.submit([task("a"), task("b", "a")], wants: ["b"])
        #expect(harness.state(of: "a") == .noWorker)
        #expect(harness.state(of: "b") == .waiting)
        #expect(computedKeys(harness.join("w1"), on: "w1") == ["a"])
    }

    @Test func restrictionsChooseTheWorker() {
        var harness = Harness()
        _ = harness.join("w1", threads: 4)
        let actions = harness.submit([task("pinned")], wants: ["pinned"], allowed: ["pinned": ["w2"]])
        #expect(actions.isEmpty)
        #expect(harness.state(of: "pinned") == .noWorker)
        #expect(computedKeys(harness.join("w2"), on: "w2") == ["pinned"])
    }

    @Test func restrictionsAcceptAddresses() {
        var harness = Harness()
        _ = harness.join("w1")
        _ = harness.join("w2")
        let actions = harness.submit([task("pinned")], wants: ["pinned"], allowed: ["pinned": ["tcp://w2"]])
        #expect(computedKeys(actions, on: "w2") == ["pinned"])
    }

    // MARK: - Failures

    @Test func anErrorReachesTheClientAndEveryDependent() {
        var harness = Harness()
        _ = harness.join("w1")
        _ = harness.submit([task("a"), task("b", "a"), task("c", "b")], wants: ["c", "a"])
        let error = TaskError(kind: .failed, key: "a", function: "f", message: "boom", location: "tcp://w1")
        let actions = harness.handle(.taskErred("a", worker: "w1", error: error))
        #expect(actions.contains(.notify("c1", .erred("a", error))))
        #expect(actions.contains(.notify("c1", .erred("c", error))))
        #expect(harness.state(of: "b") == .erred)
        #expect(harness.state(of: "c") == .erred)
        #expect(computes(actions).isEmpty)
    }

    @Test func retriesRunAFailedTaskAgain() {
        var harness = Harness()
        _ = harness.join("w1")
        _ = harness.submit([task("a")], wants: ["a"], retries: 1)
        let error = TaskError(kind: .failed, key: "a", function: "f", message: "flaky")
        #expect(computedKeys(harness.handle(.taskErred("a", worker: "w1", error: error)), on: "w1") == ["a"])
        let second = harness.handle(.taskErred("a", worker: "w1", error: error))
        #expect(second.contains(.notify("c1", .erred("a", error))))
    }

    @Test func aDependencyTheSchedulerDoesNotHaveIsAnError() {
        var harness = Harness()
        _ = harness.join("w1")
        let actions = harness.submit([task("b", "ghost")], wants: ["b"])
        #expect(harness.state(of: "b") == nil)  // rejected: nothing was added
        guard case .notify(_, .erred(_, let error)) = actions.first else {
            Issue.record("expected an error notice, got \(actions)")
            return
        }
        #expect(error.kind == .rejected)
        #expect(error.message.contains("'ghost'"))
    }

    // MARK: - Worker loss

    @Test func tasksOfALostWorkerRunElsewhere() {
        var harness = Harness()
        _ = harness.join("w1")
        _ = harness.submit([task("a")], wants: ["a"])
        _ = harness.join("w2")
        let actions = harness.handle(.workerLeft("w1", cause: "connection lost"))
        #expect(computedKeys(actions, on: "w2") == ["a"])
        #expect(harness.state.tasks["a"]?.killedWorkers.map(\.worker) == ["w1"])
    }

    @Test func resultsOnlyALostWorkerHeldAreRecomputedFromLineage() {
        var harness = Harness()
        _ = harness.join("w1")
        _ = harness.submit([task("a"), task("b", "a")], wants: ["b"])
        _ = harness.handle(.taskFinished("a", worker: "w1", nbytes: 8, duration: 0.1))
        _ = harness.handle(.taskFinished("b", worker: "w1", nbytes: 8, duration: 0.1))
        #expect(harness.state(of: "a") == .released)  // freed once b had it; kept as lineage
        _ = harness.join("w2")
        let actions = harness.handle(.workerLeft("w1", cause: "killed by signal 9"))
        #expect(actions.contains(.notify("c1", .lost("b"))))
        #expect(computedKeys(actions, on: "w2") == ["a"])
        #expect(harness.state(of: "b") == .waiting)
        let rerun = harness.handle(.taskFinished("a", worker: "w2", nbytes: 8, duration: 0.1))
        #expect(computedKeys(rerun, on: "w2") == ["b"])
        let finished = harness.handle(.taskFinished("b", worker: "w2", nbytes: 8, duration: 0.1))
        #expect(finished.contains(.notify("c1", .inMemory("b", nbytes: 8, holders: ["tcp://w2"]))))
    }

    /// The state keeps a task's arguments encoded in its submission's arena: what a worker is
    /// sent, first and again when the result is recomputed from lineage, is the spec submitted.
    @Test func aRecomputedTaskIsSentWithTheArgumentsSubmitted() {
        let literal = ArgumentSpec.value(
            Payload(encoding: .json, data: Data("[1,2,3]".utf8), typeName: "[Int]"))
        let a = TaskSpec(
            key: "a", function: "make",
            arguments: [literal, .list([literal, .value(Payload(encoding: .raw, data: Data(), typeName: ""))])])
        let b = TaskSpec(key: "b", function: "use", arguments: [.key("a"), .list([.key("a"), literal])])
        var harness = Harness()
        _ = harness.join("w1")
        func specs(_ actions: [Action]) -> [TaskSpec] {
            actions.compactMap { if case .compute(_, let assignment) = $0 { assignment.spec } else { nil } }
        }
        #expect(specs(harness.submit([a, b], wants: ["b"])) == [a])
        #expect(specs(harness.handle(.taskFinished("a", worker: "w1", nbytes: 8, duration: 0.1))) == [b])
        _ = harness.handle(.taskFinished("b", worker: "w1", nbytes: 8, duration: 0.1))
        #expect(harness.state.tasks["a"]?.spec(key: "a") == a)
        _ = harness.join("w2")
        #expect(specs(harness.handle(.workerLeft("w1", cause: "killed by signal 9"))) == [a])
        #expect(specs(harness.handle(.taskFinished("a", worker: "w2", nbytes: 8, duration: 0.1))) == [b])
    }

    @Test func aTaskThatKillsThreeWorkersErrsWithKilledWorker() throws {
        var harness = Harness()
        var actions: [Action] = []
        for number in 1...3 {
            let worker = WorkerID("w\(number)")
            actions = harness.join(worker)
            if number == 1 { actions = harness.submit([task("oom")], wants: ["oom"]) }
            #expect(computedKeys(actions, on: worker) == ["oom"])
            actions = harness.handle(.workerLeft(worker, cause: "OOM-killed at its 300 MiB limit"))
        }
        let notices = actions.filter { if case .notify = $0 { true } else { false } }
        guard case .notify("c1", .erred("oom", let error)) = try #require(notices.last) else {
            Issue.record("expected KilledWorker, got \(actions)")
            return
        }
        #expect(error.kind == .killedWorker)
        #expect(error.message.contains("3 times"))
        #expect(error.message.contains("w1 (OOM-killed at its 300 MiB limit); w2"))
        #expect(error.message.contains("OOM-killed at its 300 MiB limit"))
    }

    @Test func aReportedMissingCopyIsRecomputed() {
        var harness = Harness()
        _ = harness.join("w1")
        _ = harness.join("w2")
        _ = harness.submit([task("a"), task("b", "a")], wants: ["b"])
        let holder: WorkerID = harness.state.processingOn("a")!
        let done = harness.handle(.taskFinished("a", worker: holder, nbytes: 8, duration: 0.1))
        let (runner, _) = computes(done)[0]
        // A holder address no worker has (it left) changes nothing.
        #expect(harness.handle(.dataMissing("a", holderAddress: "tcp://gone", reporter: runner)).isEmpty)
        let actions = harness.handle(.dataMissing("a", holderAddress: "tcp://\(holder)", reporter: runner))
        #expect(actions.contains(.free(runner, ["b"])))
        #expect(computes(actions).map(\.1) == ["a"])
    }

    // MARK: - Releasing

    @Test func releasedKeysLeaveTheirWorkersAndAreForgotten() {
        var harness = Harness()
        _ = harness.join("w1")
        _ = harness.submit([task("a"), task("b", "a")], wants: ["b"])
        _ = harness.handle(.taskFinished("a", worker: "w1", nbytes: 8, duration: 0.1))
        _ = harness.handle(.taskFinished("b", worker: "w1", nbytes: 8, duration: 0.1))
        let actions = harness.handle(.keysReleased("c1", ["b"]))
        #expect(actions == [.free("w1", ["b"])])
        #expect(harness.state.tasks.isEmpty)
        #expect(harness.state.held(by: "w1").isEmpty)
    }

    @Test func aKeyWantedByTwoClientsStaysUntilBothRelease() {
        var harness = Harness()
        _ = harness.join("w1")
        _ = harness.submit([task("a")], wants: ["a"], client: "c1")
        let second = harness.submit([task("a")], wants: ["a"], client: "c2")
        #expect(computes(second).isEmpty)  // the same key is one task
        _ = harness.handle(.taskFinished("a", worker: "w1", nbytes: 8, duration: 0.1))
        #expect(harness.handle(.keysReleased("c1", ["a"])).isEmpty)
        #expect(harness.handle(.keysReleased("c2", ["a"])) == [.free("w1", ["a"])])
    }

    @Test func aDisconnectedClientsKeysAreReleasedAndRunningTasksCancelled() {
        var harness = Harness()
        _ = harness.join("w1")
        _ = harness.submit([task("done"), task("running", "done")], wants: ["done", "running"])
        _ = harness.handle(.taskFinished("done", worker: "w1", nbytes: 8, duration: 0.1))
        let actions = harness.handle(.clientDisconnected("c1"))
        #expect(Set(actions) == [.free("w1", ["done"]), .free("w1", ["running"])])
        #expect(harness.state.tasks.isEmpty)
        #expect(harness.state.clients.isEmpty)
    }

    @Test func aFinishFromAWorkerThatWasNotAskedIsDropped() {
        var harness = Harness()
        _ = harness.join("w1")
        _ = harness.join("w2")
        _ = harness.submit([task("a")], wants: ["a"])
        let runner = harness.state.processingOn("a")!
        let other: WorkerID = runner == "w1" ? "w2" : "w1"
        #expect(harness.handle(.taskFinished("a", worker: other, nbytes: 8, duration: 0.1)) == [.free(other, ["a"])])
        #expect(harness.state(of: "a") == .processing)
    }

    // MARK: - Stealing

    @Test func anIdleWorkerStealsATaskNotYetStarted() throws {
        var harness = Harness()
        _ = harness.join("w1")
        // Four tasks that need a large input on w1: locality sends them all there.
        _ = harness.submit(
            [task("big")] + (0..<4).map { task(TaskKey("use-\($0)"), "big") },
            wants: (0..<4).map { TaskKey("use-\($0)") })
        _ = harness.handle(.taskFinished("big", worker: "w1", nbytes: 1 << 33, duration: 1))
        #expect(harness.state.workers["w1"]?.processingCount == 4)
        let joined = harness.join("w2")
        let steal = try #require(joined.first { if case .requestSteal("w1", _) = $0 { true } else { false } })
        guard case .requestSteal(_, let key) = steal else { return }
        #expect(key == "use-3")  // the last in priority
        let moved = harness.handle(.stealAnswered(key, worker: "w1", started: false))
        #expect(computedKeys(moved, on: "w2") == [key])
        #expect(!harness.state.processing(on: "w1").contains(key))
    }

    /// The thief leaves before the victim answers: a victim that dropped the task must not keep it
    /// on the books, or nothing ever runs it (a worker killed mid-graph hung a gather this way).
    @Test func aTaskDroppedForAThiefThatLeftIsScheduledAgain() throws {
        var harness = Harness()
        #expect(harness.stealFromTheOnlyWorker().contains(.requestSteal("w1", "use-3")))
        _ = harness.handle(.workerLeft("w2", cause: "killed by signal 9"))
        let answered = harness.handle(.stealAnswered("use-3", worker: "w1", started: false))
        #expect(computedKeys(answered, on: "w1") == ["use-3"])
        #expect(harness.state.processingOn("use-3") == "w1")
        // A second answer for the same steal changes nothing.
        #expect(harness.handle(.stealAnswered("use-3", worker: "w1", started: false)).isEmpty)
    }

    @Test func aStartedTaskIsNotStolen() throws {
        var harness = Harness()
        _ = harness.join("w1")
        _ = harness.submit(
            [task("big")] + (0..<3).map { task(TaskKey("use-\($0)"), "big") },
            wants: (0..<3).map { TaskKey("use-\($0)") })
        _ = harness.handle(.taskFinished("big", worker: "w1", nbytes: 1 << 33, duration: 1))
        _ = harness.join("w2")
        #expect(harness.handle(.stealAnswered("use-2", worker: "w1", started: true)).isEmpty)
        #expect(harness.state.processingOn("use-2") == "w1")
    }

    // MARK: - A whole graph

    @Test(arguments: [1, 2, 5], 0..<4)
    func aRandomGraphCompletesWithEveryWorkerDyingOnce(workerCount: Int, seed: UInt64) {
        // Recovery, not KilledWorker, is under test here: let tasks outlive any number of deaths.
        var configuration = SchedulerState.Configuration()
        configuration.allowedFailures = 100
        var harness = Harness(configuration: configuration)
        var random = SeededRandom(seed: seed)
        for number in 0..<workerCount { _ = harness.join(WorkerID("w\(number)"), threads: 2) }
        var specs: [TaskSpec] = []
        for index in 0..<60 {
            let dependencies =
                index < 10 ? [] : (0..<2).map { _ in TaskKey("t\(Int.random(in: 0..<index, using: &random))") }
            specs.append(TaskSpec(key: TaskKey("t\(index)"), function: "f", arguments: dependencies.map { .key($0) }))
        }
        var pending = computes(harness.submit(specs, wants: ["t59", "t58"]))
        var deaths = 0
        var results = 0
        var steps = 0
        while !pending.isEmpty && steps < 10_000 {
            steps += 1
            let (worker, key) = pending.removeFirst()
            guard harness.state.processingOn(key) == worker else { continue }
            var actions: [Action]
            if deaths < workerCount && steps % 7 == 0 {
                deaths += 1
                actions = harness.handle(.workerLeft(worker, cause: "test"))
                actions += harness.join(WorkerID("\(worker)-again-\(deaths)"), threads: 2)
            } else {
                actions = harness.handle(.taskFinished(key, worker: worker, nbytes: 8, duration: 0.01))
            }
            for action in actions {
                switch action {
                case .compute(let worker, let assignment): pending.append((worker, assignment.spec.key))
                case .requestSteal(let worker, let key):
                    pending += computes(harness.handle(.stealAnswered(key, worker: worker, started: false)))
                case .notify(_, .inMemory): results += 1
                default: break
                }
            }
        }
        #expect(harness.state(of: "t59") == .memory)
        #expect(harness.state(of: "t58") == .memory)
        #expect(results >= 2)
    }
}

extension Harness {
    /// w1 alone holds a large input and the four tasks that need it (locality sends them all
    /// there); then w2 joins, idle. Returns what its joining did: the scheduler asks w1 for
    /// "use-3", the last in priority.
    mutating func stealFromTheOnlyWorker() -> [Action] {
        _ = join("w1")
        _ = submit(
            [task("big")] + (0..<4).map { task(TaskKey("use-\($0)"), "big") },
            wants: (0..<4).map { TaskKey("use-\($0)") })
        _ = handle(.taskFinished("big", worker: "w1", nbytes: 1 << 33, duration: 1))
        return join("w2")
    }
}
