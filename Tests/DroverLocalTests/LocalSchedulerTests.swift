import DroverCore
import DroverLocal
import DroverTestKit
import Foundation
import Synchronization
import Testing

/// Functions that exist in the `drover-test-tasks` binary; the processes scheduler runs them there
/// by name, so these bodies never run.
enum WorkerOnly {
    struct NotHere: Error {}
    static let fail = TaskFunction("test-fail") { (_: Int) throws -> Int in throw NotHere() }
    static let crash = TaskFunction("test-crash") { (_: Int) throws -> Int in throw NotHere() }
    static let processID = TaskFunction("test-pid") { (_: Int) throws -> Int in throw NotHere() }
    static let unknown = TaskFunction("no-such-function") { (_: Int) throws -> Int in throw NotHere() }
}

/// The tutorial's graph: `sum(inc(i) for i in range(8))`, inc sleeping one second.
func tutorialGraph() -> Delayed<Int> {
    Builtins.sum.delayed((0..<8).map { Builtins.inc.delayed($0) })
}

/// The tutorial's exercise: `sum(add(inc(x), double(x)) for x in range(10))`, each step 0.5 s.
func exerciseGraph() -> Delayed<Int> {
    Builtins.sum.delayed(
        (0..<10).map { Builtins.add.delayed(Builtins.incHalfSecond.delayed($0), Builtins.double.delayed($0)) }
    )
}

/// Counts how many task bodies run at once.
final class ConcurrencyProbe: Sendable {
    private let current = Atomic(0)
    private let peak = Atomic(0)

    var maximum: Int { peak.load(ordering: .relaxed) }

    func blockWhileCounted(microseconds: UInt32) {
        let now = current.wrappingAdd(1, ordering: .relaxed).newValue
        var seen = peak.load(ordering: .relaxed)
        while now > seen {
            let (exchanged, original) = peak.compareExchange(expected: seen, desired: now, ordering: .relaxed)
            if exchanged { break }
            seen = original
        }
        usleep(microseconds)
        current.wrappingSubtract(1, ordering: .relaxed)
    }
}

@Suite(.timeLimit(.minutes(1))) struct LocalSchedulerTests {
    static let processes = Scheduler.processes(workers: 4, executable: TestBinaries.testTasks)

    static let allSchedulers: [Scheduler] = [.singleThreaded, .threads(workers: 4), .threads, processes]

    @Test(arguments: allSchedulers)
    func computesTheTutorialGraph(scheduler: Scheduler) async throws {
        #expect(try await tutorialGraph().compute(scheduler: scheduler) == 36)
    }

    @Test(arguments: allSchedulers)
    func computesTheExercise(scheduler: Scheduler) async throws {
        #expect(try await exerciseGraph().compute(scheduler: scheduler) == 145)
    }

    /// A synchronous body may block the way Foundation forbids in async code (`Thread.sleep`):
    /// it runs on a scheduler thread of its own.
    @Test(arguments: [Scheduler.singleThreaded, .threads(workers: 2)])
    func aSynchronousBodyMayCallThreadSleep(scheduler: Scheduler) async throws {
        let blockingInc = TaskFunction("blocking-inc") { (x: Int) -> Int in
            Thread.sleep(forTimeInterval: 0.001)
            return x + 1
        }
        let total = Builtins.sum.delayed((0..<4).map { blockingInc.delayed($0) })
        #expect(try await total.compute(scheduler: scheduler) == 10)
    }

    @Test func processesRunTasksInOtherProcesses() async throws {
        let scheduler = Scheduler.processes(workers: 3, executable: TestBinaries.testTasks)
        let profiler = TaskProfiler()
        let pids = try await Drover.compute(
            Builtins.sum.delayed((0..<6).map { WorkerOnly.processID.delayed($0) }),
            (0..<6).map { WorkerOnly.processID.delayed($0) }.first!,
            scheduler: scheduler,
            profiler: profiler
        )
        let reported = Set(profiler.records.filter { $0.function == "test-pid" }.map(\.processID))
        #expect(!reported.contains(getpid()))
        #expect(reported.count >= 2, "three processes ran six overlapping tasks")
        #expect(reported.contains(Int32(pids.1)))
        #expect(pids.0 > 0)
    }

    @Test(arguments: [Scheduler.singleThreaded, .threads(workers: 2)])
    func taskBodiesRunOnDroverThreads(scheduler: Scheduler) async throws {
        let profiler = TaskProfiler()
        _ = try await Builtins.sum.delayed((0..<4).map { Builtins.noop.delayed($0) }).compute(
            scheduler: scheduler, profiler: profiler)
        let prefix = scheduler.kind == .singleThreaded ? "drover-single-" : "drover-thread-"
        #expect(profiler.records.count == 5)
        for record in profiler.records {
            #expect(record.thread?.hasPrefix(prefix) == true, "ran on \(record.thread ?? "?")")
            #expect(record.processID == getpid())
        }
    }

    @Test(arguments: [1, 2, 3])
    func workersBoundConcurrencyOfBlockingBodies(workers: Int) async throws {
        let probe = ConcurrencyProbe()
        let block = TaskFunction("block") { (x: Int) -> Int in
            probe.blockWhileCounted(microseconds: 20_000)
            return x
        }
        let graph = Builtins.sum.delayed((0..<12).map { block.delayed($0) })
        #expect(try await graph.compute(scheduler: .threads(workers: workers)) == 66)
        #expect(probe.maximum <= workers)
        #expect(probe.maximum >= 1)
    }

    @Test func asyncBodiesShareWorkersToo() async throws {
        let probe = Atomic(0)
        let peak = Atomic(0)
        let wait = TaskFunction("wait") { (x: Int) async throws -> Int in
            let now = probe.wrappingAdd(1, ordering: .relaxed).newValue
            peak.max(now)
            try await Task.sleep(for: .milliseconds(10))
            probe.wrappingSubtract(1, ordering: .relaxed)
            return x
        }
        _ = try await Builtins.sum.delayed((0..<10).map { wait.delayed($0) }).compute(scheduler: .threads(workers: 3))
        #expect(peak.load(ordering: .relaxed) <= 3)
    }

    @Test(arguments: [Scheduler.threads(workers: 2), processes])
    func aFailingTaskFailsTheComputeAndItsDependentsNeverRun(scheduler: Scheduler) async throws {
        let failing = WorkerOnly.fail.delayed(7)
        let inProcessFailing = TaskFunction("test-fail") { (x: Int) throws -> Int in
            throw TaskValueError(description: "boom on \(x)")
        }.delayed(7)
        let broken = scheduler.kind == .processes ? failing : inProcessFailing
        let dependent = Builtins.add.delayed(broken, Builtins.noop.delayed(1))
        let profiler = TaskProfiler()
        let error = try await #require(throws: TaskError.self) {
            try await dependent.compute(scheduler: scheduler, profiler: profiler)
        }
        #expect(error.kind == .failed)
        #expect(error.function == "test-fail")
        #expect(error.key == broken.key)
        #expect(error.message == "boom on 7")
        #expect(error.location?.hasPrefix("pid ") == true)
        #expect(!profiler.records.contains { $0.key == dependent.key })
    }

    @Test func anUnknownFunctionIsAClearError() async throws {
        let error = try await #require(throws: TaskError.self) {
            try await WorkerOnly.unknown.delayed(1).compute(scheduler: Self.processes)
        }
        #expect(error.kind == .unknownFunction)
        #expect(error.message.contains("no function named 'no-such-function' is registered here"))
        #expect(error.message.contains("test-crash"))
    }

    @Test func anArgumentOfTheWrongTypeIsAClearError() async throws {
        // A graph given as specs, as another language's client would send it.
        let spec = TaskSpec(key: "inc-bad", function: "inc", arguments: [.value(try "seven".encodePayload())])
        let graph = TaskGraph(specs: [spec], registry: .builtins)
        for scheduler in [Scheduler.singleThreaded, Self.processes] {
            let error = try await #require(throws: TaskError.self) {
                try await Drover.compute(graph, targets: ["inc-bad"], scheduler: scheduler)
            }
            #expect(error.kind == .badArgument)
            #expect(error.message.contains("function 'inc' expects argument 1 of type Int, got String"))
        }
    }

    @Test(arguments: [(SIGKILL, "killed by signal 9 (SIGKILL)"), (SIGSEGV, "killed by signal 11 (SIGSEGV)")])
    func aCrashingProcessFailsItsTaskAndThePoolRecovers(signal: Int32, expected: String) async throws {
        let scheduler = Scheduler.processes(workers: 2, executable: TestBinaries.testTasks)
        let crash = WorkerOnly.crash.delayed(Int(signal), pure: false)
        let error = try await #require(throws: TaskError.self) {
            try await Builtins.add.delayed(crash, 1).compute(scheduler: scheduler)
        }
        #expect(error.kind == .workerDied)
        #expect(error.function == "test-crash")
        #expect(error.key == crash.key)
        #expect(error.message.contains(expected), "\(error.message)")
        // The same pool serves the next computation.
        let profiler = TaskProfiler()
        #expect(try await tutorialGraphFast().compute(scheduler: scheduler, profiler: profiler) == 36)
        #expect(!profiler.processIDs.contains(getpid()))
    }

    @Test func aProgramThatDoesNotBootstrapIsReported() async throws {
        let error = try await #require(throws: TaskError.self) {
            try await Builtins.noop.delayed(1).compute(scheduler: .processes(workers: 1, executable: "/bin/true"))
        }
        #expect(error.kind == .workerDied)
        #expect(error.message.contains("must call `await Drover.bootstrap(registry)`"), "\(error.message)")
    }

    @Test func anInvalidGraphFailsBeforeAnythingRuns() async throws {
        let graph = TaskGraph(
            specs: [
                TaskSpec(key: "a", function: "noop", arguments: [.key("b")]),
                TaskSpec(key: "b", function: "noop", arguments: [.key("a")]),
            ],
            registry: .builtins
        )
        let error = try await #require(throws: GraphError.self) {
            try await Drover.compute(graph, targets: ["a"], scheduler: .threads(workers: 2))
        }
        #expect(error.code == .cycle)
    }

    @Test func computesSeveralValuesSharingTasks() async throws {
        let shared = Builtins.noop.delayed(5)
        let profiler = TaskProfiler()
        let (a, b) = try await Drover.compute(
            Builtins.add.delayed(shared, 1), Builtins.sum.delayed([shared, shared]),
            scheduler: .threads(workers: 2), profiler: profiler
        )
        #expect(a == 6)
        #expect(b == 10)
        #expect(profiler.records.filter { $0.key == shared.key }.count == 1)
    }

    @Test func valuesOfManyTypesCrossProcesses() async throws {
        let scheduler = Scheduler.processes(workers: 1, executable: TestBinaries.testTasks)
        #expect(try await Builtins.sleep.delayed(0.01).compute(scheduler: scheduler) == 0.01)
        #expect(try await Builtins.sum.delayed(Array(0..<1000)).compute(scheduler: scheduler) == 499_500)
    }
}

/// The tutorial's graph shape without the sleeps, for checks that need no timing.
func tutorialGraphFast() -> Delayed<Int> {
    Builtins.sum.delayed((0..<8).map { Builtins.add.delayed(Builtins.noop.delayed($0), 1) })
}

struct TaskValueError: Error, CustomStringConvertible {
    var description: String
}

extension Atomic where Value == Int {
    func max(_ candidate: Int) {
        var seen = load(ordering: .relaxed)
        while candidate > seen {
            let (exchanged, original) = compareExchange(expected: seen, desired: candidate, ordering: .relaxed)
            if exchanged { return }
            seen = original
        }
    }
}
