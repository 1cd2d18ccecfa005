public import DroverCore

/// Every scheduling decision of the cluster, with no IO: the scheduler's service feeds it events
/// (RPCs, worker deaths, timers) and performs the actions it returns.
///
/// It follows Dask's scheduler: task states `released → waiting → queued | noWorker → processing →
/// memory | erred`; placement by data locality and occupancy; root tasks queued while every worker
/// is saturated (worker-saturation 1.1); work stealing towards idle workers; recomputation from
/// lineage when a worker holding the only copy of a result dies; `KilledWorker` after a task's
/// workers died `allowedFailures` times; results kept while a client wants them or a task needs them.
public struct SchedulerState: Sendable {
    /// Tunables, with Dask's defaults.
    public struct Configuration: Sendable, Hashable {
        /// Root tasks a worker may hold per thread before the rest wait in the scheduler's queue.
        public var workerSaturation: Double = 1.1
        /// Worker deaths during one task before it errs with `KilledWorker` (more than this).
        public var allowedFailures: Int = 3
        /// Assumed transfer rate between workers, for placement (bytes per second).
        public var bandwidth: Double = 100_000_000
        /// Assumed rate between workers of one host (the same non-empty `WorkerRecord.host`):
        /// they hand results over shared memory (`drover bench transfer`: 3–7 GiB/s for 256 MiB).
        public var sameHostBandwidth: Double = 2_000_000_000
        /// Assumed duration of a function never seen to finish (seconds).
        public var unknownTaskDuration: Double = 0.5
        /// Estimated seconds of queued root tasks per thread a worker may hold beyond its
        /// saturation, so that tasks much shorter than a scheduler round trip do not each wait
        /// for one (Dask has no such allowance: a millisecond task costs it a round trip).
        public var queuedSecondsPerThread: Double = 0.01
        /// The most root tasks per thread a worker holds, however quick they are.
        public var maxQueuedPerThread: Int = 256
        /// A worker not heard from for longer than this is removed as hung (Dask's `worker-ttl`);
        /// nil never removes one for silence. Workers send a heartbeat every second.
        public var workerTTL: Duration? = .seconds(30)
        /// A steal the victim has not answered within this is carried out without its answer (the
        /// victim is told to drop the task; should it run it anyway, the second result is ignored).
        public var stealTimeout: Duration = .seconds(2)
        /// The longest key (and function name) a submission may use, in UTF-8 bytes.
        public var maxKeyBytes: Int = 4096
        /// The most bytes of literal arguments one submitted task may carry.
        public var maxArgumentBytes: Int = 64 << 20
        /// How long a worker with a nanny whose stream broke waits, out of placement, for the
        /// nanny to say why (``Event/workerExited(_:address:cause:)``) before it is removed with
        /// the connection's cause (checked when the clock ticks).
        public var exitReportGrace: Duration = .seconds(2)

        public init() {}
    }

    /// A task as a client submits it.
    public struct SubmittedTask: Sendable, Hashable {
        public var spec: TaskSpec
        /// Workers (ids or addresses) it may run on; empty means any.
        public var allowedWorkers: Set<String>
        /// How many failures to retry.
        public var retries: Int
        /// The user's priority: higher runs first.
        public var priority: Int

        public init(spec: TaskSpec, allowedWorkers: Set<String> = [], retries: Int = 0, priority: Int = 0) {
            self.spec = spec
            self.allowedWorkers = allowedWorkers
            self.retries = retries
            self.priority = priority
        }
    }

    /// A value a client stored on a worker itself (scatter), at the address the client used.
    public struct ScatteredValue: Sendable, Hashable {
        public var key: TaskKey
        public var nbytes: Int64
        public var workerAddress: String

        public init(key: TaskKey, nbytes: Int64, workerAddress: String) {
            self.key = key
            self.nbytes = nbytes
            self.workerAddress = workerAddress
        }
    }

    /// What happened. Facts, in the past tense.
    public enum Event: Sendable, Hashable {
        /// A worker registered; `nanny` is its nanny's address (empty: it has none).
        case workerJoined(
            WorkerID, address: String, threads: Int, memoryLimit: Int64, nanny: String = "", host: String = "")
        /// The worker is gone: disconnected, killed, or retired. `cause` is what the nanny or the
        /// connection said ("OOM-killed at its 2 GiB limit", "connection lost").
        case workerLeft(WorkerID, cause: String)
        /// The worker's stream ended. A worker without a nanny is gone at once; one with a nanny
        /// gets no new work until its nanny says why it ended (``workerExited(_:address:cause:)``)
        /// or ``exitReportOverdue(_:incarnation:cause:)`` comes.
        case workerDisconnected(WorkerID, cause: String)
        /// A nanny saw the worker serving at `address` exit, for `cause`.
        case workerExited(WorkerID, address: String, cause: String)
        /// The wait for a nanny's report, started by ``Action/awaitExitReport(_:incarnation:cause:)``,
        /// is over (the state also ends the wait itself, ``Configuration/exitReportGrace`` after it
        /// began, when the clock ticks).
        case exitReportOverdue(WorkerID, incarnation: Int, cause: String)
        /// The worker is shutting down gracefully: move what only it holds, then close it.
        case workerRetiring(WorkerID)
        /// The worker began executing these tasks.
        case tasksStarted(WorkerID, [TaskKey])
        /// A running task left its thread slot to wait on tasks of its own (Dask's `long-running`):
        /// it no longer counts against the worker's threads, and is never stolen.
        case taskSeceded(TaskKey, worker: WorkerID)
        /// The worker now holds these keys, which it was asked to replicate.
        case keysAcquired(WorkerID, [TaskKey: Int64])
        /// A heartbeat: the worker's process uses `memoryBytes`; its results take `managedBytes` in
        /// memory and `spilledBytes` on disk; `paused` says it is over its pause threshold; it runs
        /// `executing` tasks now and has made `transfers` since it started.
        case workerReported(
            WorkerID, memoryBytes: Int64, managedBytes: Int64 = 0, spilledBytes: Int64 = 0, paused: Bool = false,
            executing: Int = 0, transfers: WorkerRecord.Transfers = .init())
        case workerPaused(WorkerID)
        case workerResumed(WorkerID)
        /// A client submitted tasks (in its plan's order) and wants futures for `wants`.
        case graphSubmitted(ClientID, tasks: [SubmittedTask], wants: [TaskKey])
        case taskFinished(TaskKey, worker: WorkerID, nbytes: Int64, duration: Double?)
        case taskErred(TaskKey, worker: WorkerID, error: TaskError)
        /// A client stored values on workers and holds futures to them.
        case dataScattered(ClientID, [ScatteredValue])
        /// A client dropped its last future to these keys.
        case keysReleased(ClientID, [TaskKey])
        case clientDisconnected(ClientID)
        /// A client asked for every worker to be restarted (Dask's `client.restart`).
        case restartRequested(ClientID)
        /// A client asked for the whole cluster to stop (Dask's `client.shutdown`).
        case shutdownRequested(ClientID)
        /// A client set a variable (Dask's `Variable.set`).
        case variableSet(ClientID, name: String, Payload)
        /// A client asked for a variable's value (Dask's `Variable.get`), answered once it is set,
        /// or with `timedOut` once `timeout` has passed.
        case variableRequested(ClientID, name: String, request: UInt64, timeout: Duration? = nil)
        /// A client deleted a variable (Dask's `Variable.delete`): later requests wait for a new value.
        case variableDeleted(ClientID, name: String)
        /// A client appended a value to a queue (Dask's `Queue.put`).
        case queuePut(ClientID, name: String, Payload)
        /// A client asked for a queue's oldest value (Dask's `Queue.get`), answered once there is one
        /// (or with `timedOut` once `timeout` has passed: the request then takes no value).
        case queueRequested(ClientID, name: String, request: UInt64, timeout: Duration? = nil)
        /// A client asked how many values a queue holds (Dask's `Queue.qsize`), answered at once.
        case queueSizeRequested(ClientID, name: String, request: UInt64)
        /// A client asked for a lease of a semaphore (Dask's `Semaphore.acquire`, `Lock.acquire`).
        case semaphoreAcquireRequested(
            ClientID, name: String, maxLeases: Int, request: UInt64, timeout: Duration? = nil)
        /// A client gave back a lease.
        case semaphoreReleased(ClientID, name: String)
        /// A client set or cleared an event (Dask's `Event.set`, `Event.clear`).
        case eventUpdated(ClientID, name: String, isSet: Bool)
        /// A client waits for an event (`Event.wait`), or asks whether it is set (`immediate`).
        case eventWaited(ClientID, name: String, request: UInt64, immediate: Bool, timeout: Duration? = nil)
        /// `reporter` could not fetch `key` from the worker at `holderAddress` (as the worker saw
        /// it; empty when it was given no holder at all).
        case dataMissing(TaskKey, holderAddress: String, reporter: WorkerID)
        /// The worker answered a steal request: `started` means it is already running the task.
        case stealAnswered(TaskKey, worker: WorkerID, started: Bool)
        /// Time to look for work to steal.
        case balanceTimerFired
        /// Time passed: remove workers silent for longer than ``Configuration/workerTTL`` and carry
        /// out steals unanswered for longer than ``Configuration/stealTimeout``. The shell sends it
        /// a few times a second.
        case clockTicked
    }

    /// What the shell must do. Commands, in the imperative.
    public enum Action: Sendable, Hashable {
        /// Run the task on the worker, fetching each dependency from one of its holders.
        case compute(WorkerID, Assignment)
        /// Drop these results (or cancel these tasks) on the worker.
        case free(WorkerID, [TaskKey])
        /// Ask the worker to give up a task it has not started.
        case requestSteal(WorkerID, TaskKey)
        /// Tell a client about one of its keys.
        case notify(ClientID, ClientNotice)
        /// Have the worker fetch these keys from the addresses given and keep them.
        case replicate(WorkerID, [TaskKey: [String]])
        /// Tell the worker to shut down.
        case close(WorkerID, reason: String)
        /// The worker waits, out of placement, for its nanny to say why its stream ended; after
        /// ``Configuration/exitReportGrace`` a clock tick removes it. Nothing to do but log it.
        case awaitExitReport(WorkerID, incarnation: Int, cause: String)
        /// The worker is gone (it left, died, was removed or retired), for `cause`: record and
        /// announce its departure. Every removal says so, once.
        case workerRemoved(WorkerID, cause: String)
        /// The worker went over its memory's pause threshold (`paused`), or back under it: record
        /// and announce it (only changes are said, never a repeated report).
        case workerPauseChanged(WorkerID, paused: Bool)
        /// The task erred with `KilledWorker`: log it for the operator, once, however many
        /// clients hear of it (they each get a ``ClientNotice/erred(_:_:)``).
        case taskKilledWorkers(TaskKey, TaskError)
        /// End the worker's connection, saying why: the worker, if it is still there, registers
        /// afresh with nothing (the scheduler has forgotten what it held).
        case disconnect(WorkerID, reason: String)
        /// Ask the nanny at `nanny` to kill its worker serving at `address` (a hung process).
        case killWorker(WorkerID, address: String, nanny: String, reason: String)
        /// Ask the nanny at this address to stop (its workers retire, then it exits).
        case stopNanny(String, reason: String)
        /// Stop the scheduler itself (after the actions before this one are sent).
        case stopScheduler(reason: String)
    }

    /// A task sent to a worker.
    public struct Assignment: Sendable, Hashable {
        public var spec: TaskSpec
        public var priority: TaskPriority
        /// For each dependency, the addresses of the workers holding it.
        public var whoHas: [TaskKey: [String]]
    }

    /// News for a client about a key it wants.
    public enum ClientNotice: Sendable, Hashable {
        /// The result is ready on these workers (addresses).
        case inMemory(TaskKey, nbytes: Int64, holders: [String])
        case erred(TaskKey, TaskError)
        /// Every copy of the result was lost; it is being recomputed.
        case lost(TaskKey)
        /// The value of a variable, answering the client's request.
        case variable(request: UInt64, name: String, Payload)
        /// The request's timeout passed before it could be answered; it waits no more.
        case timedOut(request: UInt64, name: String)
    }

    public let configuration: Configuration
    public internal(set) var tasks = TaskTable()
    public internal(set) var workers: [WorkerID: WorkerRecord] = [:]
    /// Running workers with a free thread (thieves, and the first choice for a task with inputs).
    var idleWorkers: Set<WorkerID> = []
    /// Running workers below their saturation (``isSaturated(_:)``), where root tasks may go, the
    /// one a root task would start soonest on first.
    var unsaturatedWorkers = WorkerHeap()
    /// Workers holding more tasks than threads (victims of stealing).
    var overloadedWorkers: Set<WorkerID> = []
    /// The connected worker serving at each address.
    var workerAddresses: [String: WorkerID] = [:]
    /// Tasks that waited for a worker (`noWorker`), a superset: entries whose task has moved on are
    /// dropped when a worker next joins or resumes.
    var parkedTasks: Set<TaskKey> = []
    /// The tasks each client wants, by slot.
    var clientWants: [ClientID: Set<TaskSlot>] = [:]
    /// Root tasks waiting for a worker slot, by priority (stale entries are skipped).
    var queue = PriorityQueue()
    /// Worker ids as task records name them (``TaskRecord/holders``, ``TaskRecord/runner``): a
    /// number for each worker in ``workers``.
    var workerNumbers = NumberTable<WorkerID>()
    /// Client ids as task records name them (``TaskRecord/clients``): a number for each client in
    /// ``clientWants``.
    var clientNumbers = NumberTable<ClientID>()
    /// Average durations by function, from finished tasks.
    var durations: [String: Double] = [:]
    var generation = 0
    /// Registrations so far: each worker record's incarnation.
    var registrations = 0
    /// For each retiring worker, its keys being copied elsewhere and the worker copying each.
    var replicating: [WorkerID: [TaskKey: WorkerID]] = [:]
    /// The time of the event being handled: how long since the scheduler started (the shell's
    /// clock; the state never reads one).
    public internal(set) var now: Duration = .zero
    /// When the clock last ticked, to tell a stalled scheduler from silent workers.
    var lastTick: Duration?
    /// Steal requests not yet answered, and when each was sent.
    var pendingSteals: [TaskKey: Duration] = [:]
    /// Workers whose stream broke, waiting for their nanny's report until a deadline.
    var exitReportDeadlines: [WorkerID: (incarnation: Int, cause: String, deadline: Duration)] = [:]
    /// The nanny each supervised worker id last registered under: only that nanny may report the
    /// worker's exit.
    public internal(set) var nannies: [WorkerID: String] = [:]
    /// Variables by name (Dask's `distributed.Variable`), and the requests waiting for a name to be set.
    public internal(set) var variables: [String: Payload] = [:]
    var variableRequests: [String: [(client: ClientID, request: UInt64)]] = [:]
    /// Queues by name (Dask's `distributed.Queue`), oldest first, and the requests waiting on each.
    public internal(set) var queues: [String: [Payload]] = [:]
    var queueRequests: [String: [(client: ClientID, request: UInt64)]] = [:]
    /// Semaphores by name (Dask's `distributed.Semaphore` and `Lock`).
    public internal(set) var semaphores: [String: SemaphoreRecord] = [:]
    /// Events that are set (Dask's `distributed.Event`), and the requests waiting for each.
    public internal(set) var setEvents: Set<String> = []
    var eventWaiters: [String: [(client: ClientID, request: UInt64)]] = [:]
    /// When waiting requests with a timeout give up (requests answered since are skipped).
    var waitDeadlines: [WaitingRequest: Duration] = [:]

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// The keys each client wants (built from the slots: for tests and debugging, not hot paths).
    public var clients: [ClientID: Set<TaskKey>] {
        clientWants.mapValues { Set($0.map { tasks.key(of: $0) }) }
    }

    /// How many clients want keys.
    public var clientCount: Int { clientWants.count }

    /// The keys of the tasks assigned to `worker` and not yet reported back.
    public func processing(on worker: WorkerID) -> Set<TaskKey> {
        Set((workers[worker]?.processingSlots ?? []).map { tasks.key(of: $0) })
    }

    /// The keys of `worker`'s tasks that seceded (Dask's `long_running`).
    public func longRunning(on worker: WorkerID) -> Set<TaskKey> {
        Set((workers[worker]?.longRunningSlots ?? []).map { tasks.key(of: $0) })
    }

    /// The keys of the results `worker` holds.
    public func held(by worker: WorkerID) -> Set<TaskKey> {
        Set((workers[worker]?.heldSlots ?? []).map { tasks.key(of: $0) })
    }

    /// The worker serving at `address`, if one is connected.
    public func worker(at address: String) -> WorkerID? {
        workerAddresses[address]
    }

    /// Handles one event, which happened `now` (time since the scheduler started, from the
    /// shell's monotonic clock), and returns what to do.
    public mutating func handle(_ event: Event, now: Duration) -> [Action] {
        var actions: [Action] = []
        self.now = max(self.now, now)
        if let worker = event.reportingWorker { workers[worker]?.lastHeard = self.now }
        switch event {
        case .workerJoined(let id, let address, let threads, let memoryLimit, let nanny, let host):
            workerJoined(
                id, address: address, threads: threads, memoryLimit: memoryLimit, nanny: nanny, host: host,
                into: &actions)
        case .workerLeft(let id, let cause):
            workerLeft(id, cause: cause, into: &actions)
        case .workerDisconnected(let id, let cause):
            workerDisconnected(id, cause: cause, into: &actions)
        case .workerExited(let id, let address, let cause):
            if workers[id]?.address == address { workerLeft(id, cause: cause, into: &actions) }
        case .exitReportOverdue(let id, let incarnation, let cause):
            if workers[id]?.incarnation == incarnation { workerLeft(id, cause: cause, into: &actions) }
        case .workerRetiring(let id):
            workerRetiring(id, into: &actions)
        case .tasksStarted(let id, let keys):
            for key in keys {
                if let slot = tasks.slot(of: key), isRunning(slot, on: id) { tasks[slot].hasStarted = true }
            }
        case .taskSeceded(let key, let worker):
            taskSeceded(key, on: worker, into: &actions)
        case .keysAcquired(let id, let sizes):
            keysAcquired(sizes, by: id, into: &actions)
        case .workerReported(
            let id, let memoryBytes, let managedBytes, let spilledBytes, let paused, let executing, let transfers):
            workers[id]?.memoryBytes = memoryBytes
            workers[id]?.reportedManagedBytes = managedBytes
            workers[id]?.spilledBytes = spilledBytes
            workers[id]?.executing = executing
            workers[id]?.transfers = transfers
            if paused { workerPaused(id, into: &actions) } else { workerResumed(id, into: &actions) }
        case .workerPaused(let id):
            workerPaused(id, into: &actions)
        case .workerResumed(let id):
            workerResumed(id, into: &actions)
        case .graphSubmitted(let client, let submitted, let wants):
            graphSubmitted(client, submitted, wants: wants, into: &actions)
        case .taskFinished(let key, let worker, let nbytes, let duration):
            taskFinished(key, on: worker, nbytes: nbytes, duration: duration, into: &actions)
        case .taskErred(let key, let worker, let error):
            taskErred(key, on: worker, error: error, into: &actions)
        case .dataScattered(let client, let values):
            dataScattered(client, values, into: &actions)
        case .keysReleased(let client, let keys):
            release(keys, by: client, into: &actions)
        case .clientDisconnected(let client):
            release(sortedByKey(clientWants[client] ?? []).map { tasks.key(of: $0) }, by: client, into: &actions)
            forgetClient(client)
            forgetVariableRequests(of: client)
            forgetDeadlines(of: client)
            giveBackLeases(of: client, into: &actions)
        case .restartRequested(let client):
            restart(requestedBy: client, into: &actions)
        case .shutdownRequested(let client):
            shutdown(requestedBy: client, into: &actions)
        case .variableSet(_, let name, let value):
            setVariable(name, to: value, into: &actions)
        case .variableRequested(let client, let name, let request, let timeout):
            requestVariable(name, by: client, request: request, into: &actions)
            setDeadline(timeout, for: client, request: request)
        case .variableDeleted(_, let name):
            variables[name] = nil
        case .queuePut(_, let name, let value):
            put(value, onQueue: name, into: &actions)
        case .queueSizeRequested(let client, let name, let request):
            let size = try! (queues[name]?.count ?? 0).encodePayload()  // an Int always encodes (JSON)
            actions.append(.notify(client, .variable(request: request, name: name, size)))
        case .queueRequested(let client, let name, let request, let timeout):
            requestFromQueue(name, by: client, request: request, into: &actions)
            setDeadline(timeout, for: client, request: request)
        case .semaphoreAcquireRequested(let client, let name, let maxLeases, let request, let timeout):
            acquire(name, maxLeases: maxLeases, by: client, request: request, into: &actions)
            setDeadline(timeout, for: client, request: request)
        case .semaphoreReleased(let client, let name):
            releaseLease(of: name, by: client, into: &actions)
        case .eventUpdated(_, let name, let isSet):
            updateEvent(name, isSet: isSet, into: &actions)
        case .eventWaited(let client, let name, let request, let immediate, let timeout):
            waitForEvent(name, by: client, request: request, immediate: immediate, into: &actions)
            setDeadline(timeout, for: client, request: request)
        case .dataMissing(let key, let holderAddress, let reporter):
            // A holder no longer connected has had its copies dropped when it left.
            if let holder = worker(at: holderAddress) {
                dataMissing(key, holder: holder, reporter: reporter, into: &actions)
            }
        case .stealAnswered(let key, let worker, let started):
            stealAnswered(key, worker: worker, started: started, into: &actions)
        case .balanceTimerFired:
            balance(into: &actions)
        case .clockTicked:
            clockTicked(into: &actions)
            expireWaits(into: &actions)
        }
        if !replicating.isEmpty {
            for id in replicating.keys.sorted() { continueRetiring(id, into: &actions) }
        }
        return actions
    }
}

extension SchedulerState.Event {
    /// The worker this event comes from: hearing from it proves it alive.
    var reportingWorker: WorkerID? {
        switch self {
        case .workerReported(let id, _, _, _, _, _, _), .workerRetiring(let id), .tasksStarted(let id, _),
            .keysAcquired(let id, _), .workerPaused(let id), .workerResumed(let id):
            id
        case .taskFinished(_, let worker, _, _), .taskErred(_, let worker, _), .stealAnswered(_, let worker, _),
            .taskSeceded(_, let worker):
            worker
        case .dataMissing(_, _, let reporter):
            reporter
        case .workerJoined, .workerLeft, .workerDisconnected, .workerExited, .exitReportOverdue, .graphSubmitted,
            .dataScattered, .keysReleased, .clientDisconnected, .restartRequested, .shutdownRequested, .variableSet,
            .variableRequested, .variableDeleted, .queuePut, .queueRequested, .queueSizeRequested,
            .semaphoreAcquireRequested, .semaphoreReleased,
            .eventUpdated, .eventWaited,
            .balanceTimerFired, .clockTicked:
            nil
        }
    }
}

// MARK: - Invariants

extension SchedulerState {
    /// Checks that the records agree with each other; tests call it after every event.
    public func checkInvariants() throws(InvariantViolation) {
        try checkIndexes()
        try checkNumbers()
        for (slot, task) in tasks.occupied {
            let key = tasks.key(of: slot)
            for dependency in task.dependencies {
                guard tasks.contains(dependency) else {
                    throw InvariantViolation("'\(key)' depends on slot \(dependency), which is forgotten")
                }
                guard tasks[dependency].dependents.contains(slot) else {
                    throw InvariantViolation("'\(tasks.key(of: dependency))' does not list its dependent '\(key)'")
                }
            }
            for dependent in task.dependents {
                guard tasks.contains(dependent), tasks[dependent].dependencies.contains(slot) else {
                    throw InvariantViolation("'\(key)' lists slot \(dependent) as a dependent, which does not need it")
                }
            }
            guard Set(task.dependencies.map { tasks.key(of: $0) }) == Set(task.spec(key: key).dependencies) else {
                throw InvariantViolation("the dependencies of '\(key)' are not those its arguments name")
            }
            for input in task.waitingOn where !task.dependencies.contains(input) {
                throw InvariantViolation("'\(key)' waits on slot \(input), which is not one of its dependencies")
            }
            switch task.state {
            case .memory:
                guard !task.holders.isEmpty else { throw InvariantViolation("'\(key)' in memory nowhere") }
                for worker in holders(of: slot) where workers[worker]?.heldSlots.contains(slot) != true {
                    throw InvariantViolation("'\(key)' said to be on \(worker), which does not hold it")
                }
            case .processing:
                guard let worker = runner(of: slot), workers[worker]?.processingSlots.contains(slot) == true else {
                    throw InvariantViolation("'\(key)' processing on a worker that does not list it")
                }
                for dependency in task.dependencies where tasks[dependency].state != .memory {
                    throw InvariantViolation(
                        "'\(key)' processing while '\(tasks.key(of: dependency))' is not in memory")
                }
            case .waiting:
                guard !task.waitingOn.isEmpty else { throw InvariantViolation("'\(key)' waiting on nothing") }
            case .queued, .noWorker, .released, .erred:
                break
            }
            if task.state != .waiting && !task.waitingOn.isEmpty {
                throw InvariantViolation("'\(key)' is \(task.state) but waits on \(task.waitingOn.count) inputs")
            }
            if task.state != .processing, let worker = runner(of: slot) {
                throw InvariantViolation("'\(key)' is \(task.state) but assigned to \(worker)")
            }
            if task.state != .memory && !task.holders.isEmpty {
                throw InvariantViolation("'\(key)' is \(task.state) but held by \(holders(of: slot))")
            }
        }
        for (id, worker) in workers {
            for slot in worker.processingSlots where !tasks.contains(slot) || !isRunning(slot, on: id) {
                throw InvariantViolation("\(id) lists slot \(slot) as processing, but the task is elsewhere")
            }
            for slot in worker.longRunningSlots where !worker.processingSlots.contains(slot) {
                throw InvariantViolation("\(id) lists slot \(slot) as long-running, but not as processing")
            }
            for slot in worker.heldSlots where !tasks.contains(slot) || !isHeld(slot, by: id) {
                throw InvariantViolation("\(id) holds slot \(slot), which does not list it")
            }
        }
        for (client, slots) in clientWants {
            for slot in slots
            where !tasks.contains(slot) || !tasks[slot].clients.contains(clientNumbers.number(of: client) ?? -1) {
                throw InvariantViolation("\(client) wants slot \(slot), which does not list it")
            }
        }
    }
}
