import DroverCore
import DroverProto
import Foundation
import Logging
import Testing

@testable import DroverWorker

/// The worker's core without a connection or threads: commands in, bodies and reports out.
@Suite final class WorkerCoreTests {
    /// Each test's spill directory, removed when the test ends.
    let directory: TemporaryDirectory

    init() throws { directory = try TemporaryDirectory() }
    deinit { directory.remove() }

    static let double = TaskFunction("double") { (value: Int) -> Int in value * 2 }
    let environment = WorkerCore.Environment(
        registry: TaskRegistry([double.erased]), logger: Logger(label: "test"),
        policy: MemoryPolicy(limit: 0, targetFraction: 0.6, spillFraction: 0.7, pauseFraction: 0.8),
        sharedMemoryMinBytes: nil)

    static func compute(_ key: TaskKey, _ value: Int, index: Int, function: String = "double")
        throws -> WorkerState.Event
    {
        let spec = TaskSpec(key: key, function: function, arguments: [.value(try value.encodePayload())])
        return .computeRequested(spec, priority: TaskPriority(generation: 1, index: index), dependencies: [:])
    }

    /// A core with one thread whose reports go to `outbox`.
    func makeCore(outbox: BatchingQueue<Drover_V1_WorkerEvent> = BatchingQueue()) -> WorkerCore {
        var core = WorkerCore(threads: 1, store: DataStore(directory: SpillDirectory(parent: directory.path, pid: 7)))
        core.address = "me:1"
        core.state = WorkerState(threads: 1, address: "me:1")
        core.outbox = outbox
        return core
    }

    /// The reports queued so far.
    static func reports(_ outbox: BatchingQueue<Drover_V1_WorkerEvent>) async -> [Drover_V1_WorkerEvent] {
        outbox.finish()
        var events: [Drover_V1_WorkerEvent] = []
        for await batch in outbox { events += batch }
        return events
    }

    @Test func aFinishedBodyHandsItsThreadTheNextReadyTask() async throws {
        let outbox = BatchingQueue<Drover_V1_WorkerEvent>()
        var core = makeCore(outbox: outbox)

        let first = core.handle(
            [try Self.compute("a", 1, index: 0), try Self.compute("b", 2, index: 1)], in: environment)
        #expect(first.bodies.map(\.key) == ["a"])  // one thread: "b" waits
        #expect(core.bodiesRunning == 1)

        let ranA = await first.bodies[0].run(worker: FakeWorker(), logger: environment.logger)
        let second = core.executed(ranA, in: environment)
        #expect(second.bodies.map(\.key) == ["b"])  // the thread that ran "a" goes on with "b"
        #expect(second.resumes.isEmpty)
        #expect(core.bodiesRunning == 1)

        let ranB = await second.bodies[0].run(worker: FakeWorker(), logger: environment.logger)
        let last = core.executed(ranB, in: environment)
        #expect(last.bodies.isEmpty)
        #expect(core.bodiesRunning == 0)
        #expect(try core.store.peek("b").map { try Int.decode(payload: $0) } == 4)
        try core.state.checkInvariants()

        // Each batch of reports names the tasks started first: "b" started while "a"'s finish
        // was handled. Small results travel inline.
        let reports = await Self.reports(outbox)
        #expect(reports.map(\.kind.debugName) == ["started", "started", "finished", "finished"])
        #expect(reports.map { $0.started.keys.first ?? $0.finished.key } == ["a", "b", "a", "b"])
        let finishedB = try #require(reports.last?.finished)
        #expect(try Int.decode(payload: Payload(proto: finishedB.inline)) == 4)
    }

    @Test func aTaskWithAnUnknownFunctionFailsAndTheNextTaskTakesItsThread() async throws {
        let outbox = BatchingQueue<Drover_V1_WorkerEvent>()
        var core = makeCore(outbox: outbox)

        let effects = core.handle(
            [try Self.compute("x", 1, index: 0, function: "no-such-function"), try Self.compute("y", 5, index: 1)],
            in: environment)
        #expect(effects.bodies.map(\.key) == ["y"])
        #expect(core.bodiesRunning == 1)
        try core.state.checkInvariants()

        let reports = await Self.reports(outbox)
        let failure = try #require(reports.first { $0.kind.debugName == "failed" }?.failed.error)
        #expect(failure.key == "x")
        #expect(failure.message.contains("no-such-function"))
    }

    @Test func theLastBodyToEndAnswersThoseWaitingForTheWorkerToGoIdle() async throws {
        var core = makeCore()
        let effects = core.handle([try Self.compute("a", 1, index: 0)], in: environment)
        let outcome = await effects.bodies[0].run(worker: FakeWorker(), logger: environment.logger)
        let waiter = BodiesWaiter()
        core.bodiesDone.append(waiter)
        let after = core.executed(outcome, in: environment)
        #expect(after.idle.count == 1)
        for idle in after.idle { idle.finish(true) }
        waiter.finish(false)  // a deadline after the answer changes nothing
        #expect(await withCheckedContinuation { waiter.attach($0) })
        #expect(core.bodiesDone.isEmpty)
    }

    @Test func aWaitWhoseDeadlineComesFirstIsAnsweredNoOnce() async {
        let waiter = BodiesWaiter()
        waiter.finish(false)  // the deadline, before anyone waits
        waiter.finish(true)  // the last body, too late
        #expect(await withCheckedContinuation { waiter.attach($0) } == false)
    }
}

/// A task worker for bodies run outside a worker process.
struct FakeWorker: TaskWorker {
    var id: String { "fake" }
    var name: String { "fake" }
    var address: String { "me:1" }
    var schedulerAddress: String { "" }
    var security: any Sendable { 0 }
    func secede(_ key: TaskKey) async {}
    func rejoin(_ key: TaskKey) async {}
    func sharedResource(
        orMake make: @escaping @Sendable () async throws -> any TaskWorkerResource
    ) async throws -> any TaskWorkerResource {
        try await make()
    }
}

extension Drover_V1_WorkerEvent.OneOf_Kind? {
    /// The case's name, for comparing sequences of reports.
    var debugName: String {
        switch self {
        case .started: "started"
        case .finished: "finished"
        case .failed: "failed"
        case nil: "none"
        default: "other"
        }
    }
}
