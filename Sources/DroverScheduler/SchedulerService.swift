import CDroverSupport
import DroverCore
public import DroverProto
import GRPCCore
public import Logging
public import NIOCore
import NIOPosix
import SwiftProtobuf

/// The scheduler process's core: owns the ``SchedulerState``, turns what workers and clients send
/// into events, and sends each action's message down the right stream.
///
/// All decisions are the state machine's; this actor only converts and routes. Every call handles
/// one incoming batch and sends at most one outgoing batch per connection.
///
/// The actor runs on one NIO event loop (``loop``), the loop of every wire connection: a wire
/// stream's reader, run on that loop too (``readingExecutor``), hands each batch to the actor
/// synchronously (``withIsolation(_:)``), with no thread hand-off between the socket and the
/// state. gRPC streams reach it by hopping, as to any actor.
public actor SchedulerService {
    /// The event loop the actor runs on (``defaultLoop``).
    public nonisolated var loop: any EventLoop { readingExecutor.loop }
    /// A thread of its own for the process's schedulers, apart from its other NIO
    /// work (its gRPC server, its dashboard; in a test process, every test's clients): a large
    /// submission handled there holds up only the scheduler's own connections.
    static let defaultLoop: any EventLoop = MultiThreadedEventLoopGroup(numberOfThreads: 1).next()

    /// Runs a stream's reading task on ``loop`` (`withTaskExecutorPreference`).
    public nonisolated let readingExecutor: EventLoopTaskExecutor

    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        loop.executor.asUnownedSerialExecutor()
    }

    var state: SchedulerState
    private var workerOutboxes: [WorkerID: BatchingQueue<Drover_V1_WorkerCommand>] = [:]
    private var clientOutboxes: [ClientID: BatchingQueue<Drover_V1_ClientUpdate>] = [:]
    private var workerFunctions: [WorkerID: Set<String>] = [:]
    /// When to give free memory back (after big client batches and many workers' reports).
    var trimPolicy = MemoryTrimPolicy(threshold: SchedulerService.trimAfterTasks)
    /// Recent events, task executions and restarts, for the dashboard.
    var history = ClusterHistory()
    let logger: Logger
    /// The origin of the state machine's clock (``SchedulerState/now``).
    private let started = ContinuousClock.now
    /// Worker connections the scheduler ended, and why (read once by the connection's writer). The
    /// entry holds the queue, so that its identifier cannot pass to a new one meanwhile.
    private var removedStreams: [ObjectIdentifier: (outbox: BatchingQueue<Drover_V1_WorkerCommand>, reason: String)] =
        [:]
    /// TLS for the scheduler's own calls (to nannies).
    let security: Security
    /// Why the scheduler was asked to stop (a client's shutdown), for the command that runs it.
    public nonisolated let stopRequests: AsyncStream<String>
    private let stopContinuation: AsyncStream<String>.Continuation

    public init(
        configuration: SchedulerState.Configuration = .init(), exitReportGrace: Duration = .seconds(2),
        security: Security = .insecurePlaintext, logger: Logger
    ) {
        self.readingExecutor = EventLoopTaskExecutor(Self.defaultLoop)
        self.security = security
        var configuration = configuration
        configuration.exitReportGrace = exitReportGrace
        self.state = SchedulerState(configuration: configuration)
        self.logger = logger
        (stopRequests, stopContinuation) = AsyncStream.makeStream()
    }

    /// Runs `body` isolated to the service: synchronously when the caller is on ``loop`` (a wire
    /// stream's reader), after a hop otherwise.
    nonisolated func withIsolation<T: Sendable>(
        _ body: @Sendable (isolated SchedulerService) throws -> T
    ) async rethrows -> T {
        if loop.inEventLoop { return try onLoop(body) }
        return try await body(self)
    }

    /// Lets what handling a client's batch queued on ``loop`` (the writes to workers and clients)
    /// run before the reader handles the next batch: a reader on the loop does not yield while
    /// frames wait in its buffer, so the first part of a large map would otherwise reach the
    /// workers only after the last part was handled. A gRPC stream's reader, on another thread,
    /// need not. Not called after workers' batches: doing so made a task never start in
    /// `RobustnessTests` (2 runs of 3), not run down yet.
    nonisolated func yieldToWrites() async {
        if loop.inEventLoop { await Task.yield() }
    }

    /// `assumeIsolated`, which only a synchronous function may call.
    private nonisolated func onLoop<T: Sendable>(_ body: @Sendable (isolated SchedulerService) throws -> T) rethrows
        -> T
    {
        try assumeIsolated(body)
    }

    // MARK: - Workers

    /// Registers a worker's stream; returns its id.
    ///
    /// - Throws: `invalidArgument` when the registration is unusable (no id or address, a thread
    ///   count out of range).
    func workerConnected(
        _ registration: Drover_V1_RegisterWorker,
        outbox: BatchingQueue<Drover_V1_WorkerCommand>,
        peer: String
    ) throws -> WorkerID {
        if let problem = Self.problem(with: registration, maxBytes: state.configuration.maxKeyBytes) {
            logger.warning("refused a worker registration", metadata: ["peer": "\(peer)", "error": "\(problem)"])
            throw RPCError(code: .invalidArgument, message: "Refused the worker's registration: \(problem).")
        }
        let id = WorkerID(registration.id)
        if let previous = workerOutboxes[id] {
            removedStreams[ObjectIdentifier(previous)] = (previous, "it registered again")
        }
        workerOutboxes[id]?.finish()
        workerOutboxes[id] = outbox
        workerFunctions[id] = Set(registration.functions)
        logger.info(
            "worker joined",
            metadata: [
                "worker.id": "\(id)", "peer.address": "\(registration.address)",
                "worker.threads": "\(registration.threads)", "worker.host": "\(registration.host)",
            ]
        )
        apply([
            .workerJoined(
                id, address: registration.address, threads: Int(registration.threads),
                memoryLimit: registration.memoryLimit, nanny: registration.nanny, host: registration.host
            )
        ])
        history.workerJoined(id, address: registration.address, at: Self.wallClock())
        announceWorkers()
        return id
    }

    /// What a worker sent on its connection; false when the scheduler has ended that connection
    /// (the events are dropped: the worker registers afresh).
    @discardableResult
    func workerSent(
        _ events: [Drover_V1_WorkerEvent], from id: WorkerID, outbox: BatchingQueue<Drover_V1_WorkerCommand>
    ) -> Bool {
        guard workerOutboxes[id] === outbox else { return false }
        HopTrace.mark("scheduler.actor.worker")
        defer { HopTrace.mark("scheduler.actor.done") }
        var translated: [SchedulerState.Event] = []
        var inline: [TaskKey: Drover_V1_Payload] = [:]
        let now = Self.wallClock()
        for event in events {
            switch event.kind {
            case .finished(let finished):
                if finished.hasInline { inline[TaskKey(finished.key)] = finished.inline }
                recordExecution(finished, on: id, at: now)
                translated.append(
                    .taskFinished(
                        TaskKey(finished.key), worker: id, nbytes: finished.nbytes, duration: finished.durationSeconds
                    )
                )
            case .failed(let failed):
                logger.warning(
                    "task erred",
                    metadata: [
                        "task.key": "\(failed.error.key)", "worker.id": "\(id)",
                        "task.function": "\(failed.error.function)", "error": "\(failed.error.message)",
                    ])
                history.taskErred(
                    TaskKey(failed.error.key), function: failed.error.function, worker: id,
                    message: failed.error.message, at: now)
                translated.append(
                    .taskErred(TaskKey(failed.error.key), worker: id, error: TaskError(proto: failed.error)))
            case .missing(let missing):
                translated.append(
                    .dataMissing(TaskKey(missing.key), holderAddress: missing.holderAddress, reporter: id))
            case .stealAnswer(let answer):
                translated.append(.stealAnswered(TaskKey(answer.key), worker: id, started: answer.started))
            case .heartbeat(let heartbeat):
                translated.append(
                    .workerReported(
                        id, memoryBytes: heartbeat.memoryBytes, managedBytes: heartbeat.managedBytes,
                        spilledBytes: heartbeat.spilledBytes, paused: heartbeat.paused,
                        executing: Int(heartbeat.executing), transfers: WorkerRecord.Transfers(heartbeat)))
            case .retiring(let retiring):
                logger.info("worker retiring", metadata: ["worker.id": "\(id)", "reason": "\(retiring.reason)"])
                history.workerRetiring(id, reason: retiring.reason, at: now)
                translated.append(.workerRetiring(id))
            case .started(let started):
                translated.append(.tasksStarted(id, started.keys.map { TaskKey($0) }))
            case .seceded(let seceded):
                translated.append(.taskSeceded(TaskKey(seceded.key), worker: id))
            case .acquired(let acquired):
                let sizes = zip(acquired.keys, acquired.nbytes).map { (TaskKey($0), $1) }
                translated.append(.keysAcquired(id, Dictionary(sizes, uniquingKeysWith: { first, _ in first })))
            case .register, nil:
                continue
            }
        }
        apply(translated, inline: inline)
        // Their messages, actions and notices are freed between the records they change.
        if trimPolicy.shouldTrim(afterReports: translated.count, tasksHeld: state.tasks.count) {
            _ = drover_release_free_memory()
        }
        return true
    }

    /// Why the scheduler ended this worker connection, if it did; asked once, by the connection.
    func removalReason(of outbox: BatchingQueue<Drover_V1_WorkerCommand>) -> String? {
        removedStreams.removeValue(forKey: ObjectIdentifier(outbox))?.reason
    }

    /// A stream broke with an error: logged where an operator may need it.
    func streamFailed(_ error: any Error, kind: String, peer: String) {
        guard let error = error as? RPCError else {
            // The transport reset the stream (the peer vanished, or sent what the transport would
            // not read) and the handler was cancelled before it saw why.
            logger.info("stream reset", metadata: ["stream": "\(kind)", "peer": "\(peer)", "error": "\(error)"])
            return
        }
        switch error.code {
        case .resourceExhausted:
            logger.warning(
                "refused an oversize message",
                metadata: ["stream": "\(kind)", "peer": "\(peer)", "error": "\(error.message)"])
        case .internalError:
            logger.warning(
                "could not read a message (over the transport's limit, or malformed)",
                metadata: [
                    "stream": "\(kind)", "peer": "\(peer)", "error": "\(error.message)",
                    "limit.bytes": "\(TransportLimits.transportMessageBytes(for: TransportLimits.maxMessageBytes))",
                ])
        default:
            logger.debug(
                "stream ended", metadata: ["stream": "\(kind)", "peer": "\(peer)", "error": "\(error.message)"])
        }
    }

    private static func problem(with registration: Drover_V1_RegisterWorker, maxBytes: Int) -> String? {
        if registration.id.isEmpty { return "it has no id" }
        if registration.id.utf8.count > maxBytes { return "its id is over \(maxBytes) bytes" }
        if registration.address.isEmpty || HostAndPort(registration.address) == nil {
            return "its address '\(registration.address.prefix(100))' is not host:port"
        }
        if !(1...65_536).contains(registration.threads) {
            return "its thread count \(registration.threads) is not between 1 and 65536"
        }
        if registration.nanny.utf8.count > maxBytes { return "its nanny's address is over \(maxBytes) bytes" }
        if registration.host.utf8.count > maxBytes { return "its host identity is over \(maxBytes) bytes" }
        return nil
    }

    /// A worker's stream ended. A stream that a newer registration of the same id replaced ends
    /// quietly: the worker is still there, on its new stream.
    func workerDisconnected(_ id: WorkerID, outbox: BatchingQueue<Drover_V1_WorkerCommand>, cause: String) {
        guard workerOutboxes[id] === outbox else { return }
        workerOutboxes[id]?.finish()
        workerOutboxes[id] = nil
        workerFunctions[id] = nil
        apply([.workerDisconnected(id, cause: cause)])
    }

    /// A nanny says one of its workers exited, and why; false (and nothing changes) when the report
    /// names a worker that did not register under that nanny.
    func workerExited(_ report: Drover_V1_WorkerExitReport, peer: String) -> Bool {
        let id = WorkerID(report.workerID)
        guard state.acceptsExitReport(for: id, fromNanny: report.nanny) else {
            logger.warning(
                "refused an exit report",
                metadata: [
                    "worker.id": "\(report.workerID.prefix(200))", "nanny": "\(report.nanny.prefix(200))",
                    "peer": "\(peer)",
                ])
            return false
        }
        logger.warning(
            "worker died",
            metadata: [
                "worker.id": "\(id)", "peer.address": "\(report.address)", "cause": "\(report.cause)",
                "worker.restarts": "\(report.restarts)",
            ])
        let existed = state.workers[id] != nil
        history.workerExited(
            id, cause: report.cause, kind: report.oomKilled ? .oom : report.signal != 0 ? .signal : .exit,
            restarts: Int(report.restarts), at: Self.wallClock())
        apply([.workerExited(id, address: report.address, cause: report.cause)], exitRecorded: id)
        guard existed, state.workers[id] == nil else { return true }  // a stale report: nothing changed
        workerOutboxes[id]?.finish()
        workerOutboxes[id] = nil
        workerFunctions[id] = nil
        return true
    }

    // MARK: - Clients

    /// Registers a client's stream.
    ///
    /// - Throws: `invalidArgument` for an empty or oversize id; `alreadyExists` when another open
    ///   connection uses the id (its updates would otherwise go astray).
    func clientConnected(_ id: ClientID, outbox: BatchingQueue<Drover_V1_ClientUpdate>) throws {
        guard !id.rawValue.isEmpty, id.rawValue.utf8.count <= state.configuration.maxKeyBytes else {
            throw RPCError(
                code: .invalidArgument,
                message: "A client id must be 1 to \(state.configuration.maxKeyBytes) bytes long.")
        }
        guard clientOutboxes[id] == nil else {
            logger.warning("refused a duplicate client id", metadata: ["client.id": "\(id)"])
            throw RPCError(
                code: .alreadyExists,
                message: "The client id '\(id)' is in use by another connection; each connection needs an id of "
                    + "its own (a random one).")
        }
        clientOutboxes[id] = outbox
        logger.debug("client connected", metadata: ["client.id": "\(id)"])
        announceWorkers(to: id)
    }

    func clientSent(_ events: [Drover_V1_ClientEvent], from id: ClientID) {
        HopTrace.mark("scheduler.actor.client")
        defer { HopTrace.mark("scheduler.actor.done") }
        var translated: [SchedulerState.Event] = []
        // Tasks submitted or released in this batch: after many, the memory malloc kept is given back.
        var churn = 0
        for event in events {
            switch event.kind {
            case .submit(let submit):
                churn += submit.tasks.count
                translated.append(contentsOf: submission(submit, from: id))
            case .release(let release):
                churn += release.keys.count
                translated.append(.keysReleased(id, release.keys.map { TaskKey($0) }))
            case .scattered(let scattered):
                let values = scattered.keys.map {
                    SchedulerState.ScatteredValue(
                        key: TaskKey($0.key), nbytes: $0.nbytes, workerAddress: $0.workerAddress)
                }
                translated.append(.dataScattered(id, values))
            case .restart:
                logger.info("restart requested", metadata: ["client.id": "\(id)"])
                translated.append(.restartRequested(id))
            case .shutdown:
                logger.info("shutdown requested", metadata: ["client.id": "\(id)"])
                translated.append(.shutdownRequested(id))
            case .setVariable(let set):
                translated.append(.variableSet(id, name: set.name, Payload(proto: set.value)))
            case .getVariable(let get):
                translated.append(
                    .variableRequested(
                        id, name: get.name, request: get.request,
                        timeout: WaitTimeout.duration(seconds: get.timeoutSeconds)))
            case .deleteVariable(let delete):
                translated.append(.variableDeleted(id, name: delete.name))
            case .queuePut(let put):
                translated.append(.queuePut(id, name: put.name, Payload(proto: put.value)))
            case .queueGet(let get):
                translated.append(
                    .queueRequested(
                        id, name: get.name, request: get.request,
                        timeout: WaitTimeout.duration(seconds: get.timeoutSeconds)))
            case .queueSize(let size):
                translated.append(.queueSizeRequested(id, name: size.name, request: size.request))
            case .semaphoreAcquire(let acquire):
                translated.append(
                    .semaphoreAcquireRequested(
                        id, name: acquire.name, maxLeases: Int(acquire.maxLeases), request: acquire.request,
                        timeout: WaitTimeout.duration(seconds: acquire.timeoutSeconds)))
            case .semaphoreRelease(let release):
                translated.append(.semaphoreReleased(id, name: release.name))
            case .eventUpdate(let update):
                translated.append(.eventUpdated(id, name: update.name, isSet: update.set))
            case .eventWait(let wait):
                translated.append(
                    .eventWaited(
                        id, name: wait.name, request: wait.request, immediate: wait.immediate,
                        timeout: WaitTimeout.duration(seconds: wait.timeoutSeconds)))
            case .register, nil:
                continue
            }
        }
        apply(translated)
        if trimPolicy.shouldTrim(afterClientChurn: churn, tasksHeld: state.tasks.count) {
            // Decoding and checking a large submission takes several times what its records keep,
            // in small blocks glibc would otherwise keep mapped: a million-task map left ~1 GB.
            _ = drover_release_free_memory()
        }
    }

    /// The most keys one `Replicate` command lists, as for a `Free`.
    static let maxKeysPerCommand = [Drover_V1_WorkerCommand].maxKeysPerFree

    /// Tasks submitted or released in one batch after which the scheduler gives free memory back.
    static let trimAfterTasks = 10_000

    func clientDisconnected(_ id: ClientID, outbox: BatchingQueue<Drover_V1_ClientUpdate>) {
        guard clientOutboxes[id] === outbox else { return }
        clientOutboxes[id]?.finish()
        clientOutboxes[id] = nil
        logger.debug("client disconnected", metadata: ["client.id": "\(id)"])
        apply([.clientDisconnected(id)])
    }

    /// A submission as an event, or, for tasks that do not decode, errors sent straight back.
    private func submission(_ submit: Drover_V1_SubmitGraph, from id: ClientID) -> [SchedulerState.Event] {
        var tasks: [SchedulerState.SubmittedTask] = []
        var rejected: [Drover_V1_ClientUpdate] = []
        for task in submit.tasks {
            do {
                tasks.append(
                    .init(
                        spec: try TaskSpec(proto: task.spec),
                        allowedWorkers: Set(task.allowedWorkers),
                        retries: Int(task.retries),
                        priority: Int(task.priority)
                    )
                )
            } catch {
                logger.warning(
                    "rejected malformed task", metadata: ["task.key": "\(task.spec.key)", "error": "\(error)"])
                let failure = TaskError(
                    kind: .rejected, key: TaskKey(task.spec.key), function: task.spec.function,
                    message: "the scheduler could not read the task: \(error)"
                )
                rejected.append(
                    .with {
                        $0.erred = .with {
                            $0.error = failure.proto; $0.key = task.spec.key
                        }
                    })
            }
        }
        if !rejected.isEmpty { clientOutboxes[id]?.send(contentsOf: rejected) }
        return [.graphSubmitted(id, tasks: tasks, wants: submit.wants.map { TaskKey($0) })]
    }

    /// Tells every client (or one) which workers are connected.
    private func announceWorkers(to only: ClientID? = nil) {
        let update = Drover_V1_ClientUpdate.with {
            $0.workers = .with {
                $0.addresses = state.workers.values.map(\.address).sorted()
                $0.threads = Int32(state.workers.values.reduce(0) { $0 + $1.threads })
            }
        }
        if let only {
            clientOutboxes[only]?.send(update)
        } else {
            for outbox in clientOutboxes.values { outbox.send(update) }
        }
    }

    // MARK: - Status

    func identity(address: String) -> Drover_V1_IdentityResponse {
        .with { response in
            response.address = address
            response.workers = Int32(state.workers.count)
            response.threads = Int32(state.workers.values.reduce(0) { $0 + $1.threads })
            response.tasks = Int32(state.tasks.count)
            response.clients = Int32(state.clientCount)
            response.workerInfo = state.workers.values.sorted { $0.id < $1.id }.map { worker in
                .with {
                    $0.id = worker.id.rawValue
                    $0.address = worker.address
                    $0.threads = Int32(worker.threads)
                    $0.memoryLimit = worker.memoryLimit
                    $0.processing = Int32(worker.processingCount)
                    $0.held = Int32(worker.heldCount)
                    $0.memoryBytes = worker.memoryBytes
                    $0.managedBytes = worker.reportedManagedBytes
                    $0.spilledBytes = worker.spilledBytes
                    $0.paused = worker.status == .paused
                    $0.status =
                        switch worker.status {
                        case .running: "running"
                        case .paused: "paused"
                        case .closing: "closing"
                        }
                    $0.nanny = worker.nanny
                    $0.executing = Int32(worker.executing)
                    $0.restarts = Int32(history.exits[worker.id]?.restarts ?? 0)
                    $0.lastExitCause = history.exits[worker.id]?.lastCause ?? ""
                    $0.incomingTransferBytes = worker.transfers.incomingBytes
                    $0.outgoingTransferBytes = worker.transfers.outgoingBytes
                }
            }
        }
    }

    // MARK: - Performing actions

    /// Handles `events` and sends what they cause. `inline` holds small results that came with
    /// this batch, passed on to the clients told the key is in memory.
    /// `exitRecorded` names a worker whose nanny's exit report is in the history already: its
    /// departure is not recorded twice.
    func apply(
        _ events: [SchedulerState.Event], inline: [TaskKey: Drover_V1_Payload] = [:], exitRecorded: WorkerID? = nil
    ) {
        var toWorkers: [WorkerID: [Drover_V1_WorkerCommand]] = [:]
        var toClients: [ClientID: [Drover_V1_ClientUpdate]] = [:]
        var workersChanged = false
        let now = ContinuousClock.now - started
        for event in events {
            for action in state.handle(event, now: now) {
                switch action {
                case .compute(let worker, let assignment):
                    toWorkers[worker, default: []].append(.with { $0.compute = computeTask(assignment) })
                case .free(let worker, let keys):
                    toWorkers[worker, default: []].appendFree(keys)
                case .requestSteal(let worker, let key):
                    toWorkers[worker, default: []].append(.with { $0.steal = .with { $0.key = key.rawValue } })
                case .notify(let client, let notice):
                    var message = update(notice)
                    if case .inMemory(let key, _, _) = notice, let payload = inline[key] {
                        message.inMemory.inline = payload
                    }
                    toClients[client, default: []].append(message)
                case .replicate(let worker, let keys):
                    // A retiring worker may hold a million results: cut the order into commands of
                    // `maxKeysPerCommand`, so that each is a message of its own, of a few MiB.
                    let sorted = keys.sorted { $0.key < $1.key }
                    for start in stride(from: 0, to: sorted.count, by: Self.maxKeysPerCommand) {
                        let part = sorted[start..<min(sorted.count, start + Self.maxKeysPerCommand)]
                        toWorkers[worker, default: []].append(
                            .with {
                                $0.replicate = .with {
                                    $0.keys = part.map { key, addresses in
                                        .with {
                                            $0.key = key.rawValue
                                            $0.addresses = addresses
                                            $0.nbytes = state.tasks[key]?.nbytes ?? 0
                                        }
                                    }
                                }
                            })
                    }
                case .close(let worker, let reason):
                    logger.info("closing worker", metadata: ["worker.id": "\(worker)", "reason": "\(reason)"])
                    toWorkers[worker, default: []].append(.with { $0.close = .with { $0.reason = reason } })
                case .disconnect(let worker, let reason):
                    logger.warning("worker removed", metadata: ["worker.id": "\(worker)", "cause": "\(reason)"])
                    if let outbox = workerOutboxes.removeValue(forKey: worker) {
                        removedStreams[ObjectIdentifier(outbox)] = (outbox, reason)
                        outbox.finish()
                    }
                    workerFunctions[worker] = nil
                    workersChanged = true
                case .killWorker(let worker, let address, let nanny, let reason):
                    askNannyToKill(worker, address: address, nanny: nanny, reason: reason)
                case .stopNanny(let nanny, let reason):
                    askNannyToStop(nanny, reason: reason)
                case .stopScheduler(let reason):
                    logger.info("scheduler asked to stop", metadata: ["reason": "\(reason)"])
                    stopContinuation.yield(reason)
                case .awaitExitReport(let worker, _, let cause):
                    logger.debug(
                        "waiting for a nanny's exit report", metadata: ["worker.id": "\(worker)", "cause": "\(cause)"])
                case .workerRemoved(let worker, let cause):
                    logger.info("worker left", metadata: ["worker.id": "\(worker)", "cause": "\(cause)"])
                    if worker != exitRecorded { history.workerLeft(worker, cause: cause, at: Self.wallClock()) }
                    workersChanged = true
                case .workerPauseChanged(let worker, let paused):
                    logger.info(paused ? "worker paused" : "worker resumed", metadata: ["worker.id": "\(worker)"])
                    if paused {
                        history.workerPaused(worker, at: Self.wallClock())
                    } else {
                        history.workerResumed(worker, at: Self.wallClock())
                    }
                case .taskKilledWorkers(let key, let error):
                    logger.warning(
                        "task killed its workers",
                        metadata: [
                            "task.key": "\(key)", "task.function": "\(error.function)", "error": "\(error.message)",
                        ])
                    history.taskErred(
                        key, function: error.function, worker: nil, message: error.message, at: Self.wallClock())
                }
            }
        }
        for (worker, commands) in toWorkers {
            workerOutboxes[worker]?.send(contentsOf: commands)
        }
        if workersChanged { announceWorkers() }
        for (client, updates) in toClients {
            clientOutboxes[client]?.send(contentsOf: updates)
        }
    }

    private func computeTask(_ assignment: SchedulerState.Assignment) -> Drover_V1_ComputeTask {
        .with { task in
            task.spec = assignment.spec.proto
            task.priorityGeneration = Int64(assignment.priority.generation)
            task.priorityIndex = Int64(assignment.priority.index)
            task.priorityUser = Int32(clamping: assignment.priority.user)
            task.dependencies = assignment.whoHas.sorted { $0.key < $1.key }.map { key, addresses in
                .with {
                    $0.key = key.rawValue
                    $0.addresses = addresses
                    $0.nbytes = state.tasks[key]?.nbytes ?? 0
                }
            }
        }
    }

    private func update(_ notice: SchedulerState.ClientNotice) -> Drover_V1_ClientUpdate {
        switch notice {
        case .inMemory(let key, let nbytes, let holders):
            .with {
                $0.inMemory = .with {
                    $0.key = key.rawValue
                    $0.nbytes = nbytes
                    $0.holders = holders
                }
            }
        case .erred(let key, let error):
            .with {
                $0.erred = .with {
                    $0.key = key.rawValue
                    $0.error = error.proto
                }
            }
        case .lost(let key):
            .with { $0.lost = .with { $0.key = key.rawValue } }
        case .variable(let request, let name, let value):
            .with {
                $0.variable = .with {
                    $0.request = request
                    $0.name = name
                    $0.value = value.proto
                }
            }
        case .timedOut(let request, let name):
            .with {
                $0.variable = .with {
                    $0.request = request
                    $0.name = name
                    $0.timedOut = true
                }
            }
        }
    }
}
