import DroverCore
import DroverProto
import Foundation
import Logging
import SwiftProtobuf
import Synchronization

/// Where a worker's task threads and its scheduler connection meet: the decisions
/// (``WorkerState``), the results (``DataStore``), the reports not yet sent and the bodies
/// running, kept under the runtime's one lock.
///
/// Commands from the scheduler and finished task bodies come in as events (``handle(_:in:)``,
/// ``executed(_:in:)``); what the state decides is carried out here as far as it touches only
/// this data (results stored and forgotten, reports queued for the connection's next batch), and
/// the rest comes back as ``Effects`` for the caller to carry out once the lock is released:
/// bodies to start, fetches, waiters to resume. A task thread that finishes a body takes the next
/// body from its own call, so a busy worker runs task after task without handing anything to
/// another thread. Nothing here awaits; reading a spilled input back is the only IO.
struct WorkerCore {
    /// What the core needs of the worker and never changes.
    struct Environment: Sendable {
        let registry: TaskRegistry
        let logger: Logger
        let policy: MemoryPolicy
        /// Results of at least this many bytes go to shared memory; nil: never.
        let sharedMemoryMinBytes: Int?
    }

    /// What to do once the lock is released.
    struct Effects {
        /// Task bodies to run, in the order the state started them.
        var bodies: [TaskBody] = []
        /// Inputs to fetch, by peer.
        var fetches: [(keys: [TaskKey], peer: String)] = []
        /// Tasks to wake: they hold their slot again.
        var resumes: [CheckedContinuation<Void, Never>] = []
        /// Those waiting for the last body to end (``WorkerRuntime/bodiesFinished(within:)``): it has.
        var idle: [BodiesWaiter] = []
    }

    var state: WorkerState
    var store: DataStore
    /// This worker's address, once it listens.
    var address = ""
    /// The scheduler connection's outgoing events; nil while there is none.
    var outbox: BatchingQueue<Drover_V1_WorkerEvent>?
    /// The scheduler has answered on the current connection.
    var isConnected = false
    /// `retire` was called: the scheduler is moving this worker's results away.
    var isRetiring = false
    var isStopping = false
    /// Task bodies started and not yet finished, and who waits for there to be none.
    var bodiesRunning = 0
    var bodiesDone: [BodiesWaiter] = []
    /// Seceded tasks waiting for a thread slot (``WorkerState/Action/rejoin(_:)``), by key.
    var rejoinWaiters: [TaskKey: [CheckedContinuation<Void, Never>]] = [:]
    /// Peer transfers since this process started, for heartbeats.
    var transfers = TransferCounters()
    /// The last spill failed: later failures are logged at debug until one succeeds.
    var isSpillFailing = false
    private var pending: [Drover_V1_WorkerEvent] = []
    private var acquired: [(key: TaskKey, nbytes: Int64)] = []
    /// Tasks started since the last report, reported in one `TasksStarted` ahead of the rest (a
    /// worker that dies is blamed only for the tasks it had started).
    private var started: [TaskKey] = []

    /// Fetches that succeeded, their bytes and seconds, and bytes served by `GetData`.
    struct TransferCounters {
        var incoming: Int64 = 0
        var incomingBytes: Int64 = 0
        var incomingSeconds: Double = 0
        var outgoingBytes: Int64 = 0
    }

    init(threads: Int, store: DataStore) {
        self.state = WorkerState(threads: threads, address: "")
        self.store = store
    }

    // MARK: - Events in

    /// Feeds `events` to the state, carries out its actions, and queues the reports.
    mutating func handle(_ events: [WorkerState.Event], in environment: Environment) -> Effects {
        var effects = Effects()
        handle(events, in: environment, into: &effects)
        return effects
    }

    private mutating func handle(
        _ events: [WorkerState.Event], in environment: Environment, into effects: inout Effects
    ) {
        // A task that cannot start (unknown function, an input unreadable) fails as an event of
        // its own, handled after the one that started it.
        var queue = events
        var index = 0
        while index < queue.count {
            for action in state.handle(queue[index]) {
                if let failure = perform(action, in: environment, into: &effects) { queue.append(failure) }
            }
            index += 1
        }
        flushReports()
        // Once per batch of events: inputs read back from disk or results just stored may have
        // pushed the results in memory past the target.
        spill(environment.policy.keysToSpill(store.ledger), logger: environment.logger)
    }

    /// A body ended on its task thread: stores its result and returns what follows (the thread
    /// runs the first of `effects.bodies` itself).
    mutating func executed(_ outcome: TaskBody.Outcome, in environment: Environment) -> Effects {
        var effects = Effects()
        bodiesRunning -= 1
        if bodiesRunning == 0 {
            effects.idle = bodiesDone
            bodiesDone = []
        }
        let key = outcome.key
        switch outcome.result {
        case .success(var payload):
            if let (segment, data) = outcome.shared {
                // The bytes now live in the segment: drop the private copy.
                payload.data = data
                store.put(key, payload, segment: segment)
            } else {
                store.put(key, payload)
            }
            handle(
                [.executionFinished(key, nbytes: Int64(payload.data.count), duration: outcome.seconds)],
                in: environment, into: &effects)
        case .failure(let error):
            handle([.executionFailed(key, error)], in: environment, into: &effects)
        }
        return effects
    }

    /// Carries out one action; returns the event to handle next when a task cannot start.
    private mutating func perform(
        _ action: WorkerState.Action, in environment: Environment, into effects: inout Effects
    ) -> WorkerState.Event? {
        switch action {
        case .execute(let key):
            return prepare(key, in: environment, into: &effects)
        case .fetch(let keys, let peer):
            environment.logger.trace(
                "fetch started", metadata: ["peer.address": "\(peer)", "task.key": "\(keys[0])"])
            effects.fetches.append((keys, peer))
        case .forget(let key):
            store.remove(key)
        case .reportFinished(let key, let nbytes, let duration, let inline):
            let value = inline ? payload(for: key, logger: environment.logger) : nil
            pending.append(
                .with {
                    $0.finished = .with {
                        $0.key = key.rawValue
                        $0.nbytes = nbytes
                        $0.durationSeconds = duration
                        $0.typeName = store.typeName(of: key) ?? ""
                        if let value { $0.inline = value.proto }
                    }
                }
            )
        case .reportFailed(let error):
            pending.append(.with { $0.failed = .with { $0.error = error.proto } })
        case .reportMissing(let key, let holder):
            environment.logger.debug("input missing", metadata: ["task.key": "\(key)", "peer.address": "\(holder)"])
            pending.append(
                .with {
                    $0.missing = .with {
                        $0.key = key.rawValue; $0.holderAddress = holder
                    }
                })
        case .answerSteal(let key, let started):
            pending.append(
                .with {
                    $0.stealAnswer = .with {
                        $0.key = key.rawValue; $0.started = started
                    }
                })
        case .reportAcquired(let key, let nbytes):
            acquired.append((key, nbytes))
        case .reportSeceded(let key):
            pending.append(.with { $0.seceded = .with { $0.key = key.rawValue } })
        case .rejoin(let key):
            effects.resumes += rejoinWaiters.removeValue(forKey: key) ?? []
        }
        return nil
    }

    /// Everything a task thread needs to run `key`'s body, or the failure when it cannot run.
    private mutating func prepare(
        _ key: TaskKey, in environment: Environment, into effects: inout Effects
    ) -> WorkerState.Event? {
        environment.logger.trace("execute", metadata: ["task.key": "\(key)"])
        guard let spec = state.records[key]?.spec else { return nil }
        let location = "worker \(address)"
        guard let function = environment.registry[spec.function] else {
            return .executionFailed(
                key,
                .unknownFunction(spec.function, key: key, known: environment.registry.names, location: location))
        }
        var arguments: [ArgumentValue] = []
        arguments.reserveCapacity(spec.arguments.count)
        do {
            for argument in spec.arguments { arguments.append(try resolve(argument, logger: environment.logger)) }
        } catch {
            return .executionFailed(
                key,
                TaskError(kind: .failed, key: key, function: spec.function, message: error.message, location: location))
        }
        started.append(key)
        bodiesRunning += 1
        effects.bodies.append(
            TaskBody(
                key: key, function: function, arguments: arguments, address: address,
                sharedMemoryMinBytes: store.segmentServer == nil ? nil : environment.sharedMemoryMinBytes))
        return nil
    }

    private mutating func resolve(_ argument: ArgumentSpec, logger: Logger) throws(TaskError) -> ArgumentValue {
        switch argument {
        case .value(let payload):
            return .payload(payload)
        case .key(let key):
            do {
                return try store.load(key).map { .payload($0) } ?? .list([])
            } catch {
                logger.error(
                    "could not read a spilled result back",
                    metadata: ["task.key": "\(key)", "error": "\(error)", "spill.directory": "\(store.directoryPath)"])
                throw TaskError(
                    kind: .failed, key: key, function: "",
                    message: "The input '\(key)' was spilled to disk and could not be read back: \(error)")
            }
        case .list(let items):
            var values: [ArgumentValue] = []
            values.reserveCapacity(items.count)
            for item in items { values.append(try resolve(item, logger: logger)) }
            return .list(values)
        }
    }

    /// Sends the reports gathered so far as part of the connection's next batch: tasks started
    /// first, then the rest in order, then the copies acquired.
    private mutating func flushReports() {
        if !started.isEmpty {
            let keys = started.map(\.rawValue)
            pending.insert(.with { $0.started = .with { $0.keys = keys } }, at: 0)
            started = []
        }
        if !acquired.isEmpty {
            let keys = acquired.map(\.key.rawValue)
            let sizes = acquired.map(\.nbytes)
            pending.append(
                .with {
                    $0.acquired = .with {
                        $0.keys = keys; $0.nbytes = sizes
                    }
                })
            acquired = []
        }
        if !pending.isEmpty {
            HopTrace.mark("worker.report.queued")
            outbox?.send(contentsOf: pending)
            pending = []
        }
    }

    // MARK: - Results

    /// A result this worker holds, for `GetData` and inline reports; a spilled one is read from
    /// disk and stays there.
    func payload(for key: TaskKey, logger: Logger) -> Payload? {
        do {
            return try store.peek(key)
        } catch {
            logger.error(
                "could not read a spilled result back",
                metadata: ["task.key": "\(key)", "error": "\(error)", "spill.directory": "\(store.directoryPath)"])
            return nil
        }
    }

    /// Writes `keys` to disk (least recently used first), logging what happened.
    mutating func spill(_ keys: [TaskKey], logger: Logger) {
        guard !keys.isEmpty else { return }
        let outcome = store.spill(keys)
        if outcome.count > 0 {
            logger.debug(
                "spilled results to disk",
                metadata: [
                    "task.count": "\(outcome.count)", "spill.bytes": "\(outcome.bytes)",
                    "memory.managed": "\(store.managedBytes)", "memory.spilled": "\(store.spilledBytes)",
                ])
        }
        guard let failure = outcome.failure else {
            if outcome.count > 0 { isSpillFailing = false }
            return
        }
        let metadata: Logger.Metadata = [
            "task.key": "\(failure.key)", "error": "\(failure.error)", "spill.directory": "\(store.directoryPath)",
        ]
        // Disk full stays full for a while: say it once, then quietly until a spill works again.
        let level: Logger.Level = isSpillFailing ? .debug : .error
        logger.log(level: level, "could not spill a result to disk; keeping it in memory", metadata: metadata)
        isSpillFailing = true
    }

    /// Every waiter for a rejoin, taken: the state that would give them slots is gone.
    mutating func takeAllRejoinWaiters() -> [CheckedContinuation<Void, Never>] {
        defer { rejoinWaiters = [:] }
        return Array(rejoinWaiters.values.joined())
    }
}

/// One task's body, ready to run on a task thread: its function and resolved arguments.
struct TaskBody: Sendable {
    let key: TaskKey
    let function: AnyTaskFunction
    let arguments: [ArgumentValue]
    /// The worker's address, for errors and the task's ``WorkerContext``.
    let address: String
    /// A result of at least this many bytes is copied into shared memory; nil: never.
    let sharedMemoryMinBytes: Int?

    /// What running it gave.
    struct Outcome: Sendable {
        let key: TaskKey
        let result: Result<Payload, TaskError>
        /// The result's segment and its mapping, when it went to shared memory.
        let shared: (SharedSegment, Data)?
        let seconds: Double
    }

    /// Runs the body with `worker` as its ``WorkerContext``; a large result is copied into shared
    /// memory here, on the task's thread.
    func run(worker: any TaskWorker, logger: Logger) async -> Outcome {
        let start = ContinuousClock.now
        let result = await WorkerContext.$current.withValue(WorkerContext(key: key, worker: worker)) {
            await function.runEncoded(key: key, arguments: arguments, location: "worker \(address)")
        }
        var segment: SharedSegment?
        if let minimum = sharedMemoryMinBytes, case .success(let payload) = result, payload.data.count >= minimum {
            do {
                segment = try SharedSegment.make(copying: payload.data, name: "drover:\(key)")
            } catch {
                logger.debug("result kept in private memory", metadata: ["task.key": "\(key)", "error": "\(error)"])
            }
        }
        let shared = segment.flatMap { segment in (try? segment.map()).map { (segment, $0) } }
        return Outcome(key: key, result: result, shared: shared, seconds: (ContinuousClock.now - start).inSeconds)
    }
}

/// One wait for a worker's task bodies to end, answered once: true by the last body to end,
/// false by the wait's deadline, whichever comes first.
final class BodiesWaiter: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Bool, Never>?
        var answer: Bool?
    }
    private let state = Mutex(State())

    /// Resumes `continuation` with the answer, now if there is one already.
    func attach(_ continuation: CheckedContinuation<Bool, Never>) {
        let answer = state.withLock { state -> Bool? in
            if let answer = state.answer { return answer }
            state.continuation = continuation
            return nil
        }
        if let answer { continuation.resume(returning: answer) }
    }

    /// Answers the wait, unless it was answered before.
    func finish(_ answer: Bool) {
        let continuation = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            guard state.answer == nil else { return nil }
            state.answer = answer
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume(returning: answer)
    }
}
