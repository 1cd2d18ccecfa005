public import DroverCore
import DroverLocal
public import DroverProto
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
public import Logging
import SwiftProtobuf
import Synchronization

/// A worker process: runs what the scheduler assigns on `threads` threads of its own, keeps the
/// results (spilling them to disk when memory runs short), fetches inputs from peers, and serves
/// its results to peers and clients.
///
/// Decisions are ``WorkerState``'s and ``MemoryPolicy``'s; ``WorkerCore`` holds them with the
/// results under one lock, which the connection's reader and the task threads take in turn (a
/// task thread that finishes a body records it and runs the next ready task itself). When the
/// scheduler goes away the worker drops what it held and reconnects with backoff until it is back.
/// ``run(onListening:)`` returns when the scheduler sends `Close` (after ``retire(reason:)``, or
/// to stop the worker) or when its task is cancelled.
public final class WorkerRuntime: Sendable {
    /// How to run a worker.
    public struct Options: Sendable {
        public var scheduler: HostAndPort
        public var host: String
        public var port: Int
        public var threads: Int
        public var name: String?
        /// The memory limit in bytes; 0 for none (nothing is spilled and the worker never pauses).
        public var memoryLimit: Int64
        /// Spill results when those in memory pass this fraction of the limit (0: never).
        public var memoryTargetFraction: Double
        /// Spill results when the process's memory passes this fraction of the limit (0: never).
        public var memorySpillFraction: Double
        /// Pause when the process's memory passes this fraction of the limit (0: never).
        public var memoryPauseFraction: Double
        /// Where the spill directory goes; nil for the system's temporary directory.
        public var localDirectory: String?
        /// The address of the nanny supervising this worker; empty when none.
        public var nanny: String
        /// TLS for the worker's server, its scheduler connection and its peer connections.
        public var security: Security
        /// Results of at least this many bytes are kept in shared memory and handed to workers of
        /// the same host as a descriptor instead of bytes; nil: never.
        public var sharedMemoryMinBytes: Int?
        /// How long a stopping worker waits for task bodies still running (their results are no
        /// longer wanted: the scheduler has moved their tasks) before it returns without them.
        public var closeTimeout: Duration

        /// Creates options; the memory fractions default to Dask's 0.60, 0.70 and 0.80.
        public init(
            scheduler: HostAndPort, host: String = "127.0.0.1", port: Int = 0, threads: Int = 1, name: String? = nil,
            memoryLimit: Int64 = 0, memoryTargetFraction: Double = 0.6, memorySpillFraction: Double = 0.7,
            memoryPauseFraction: Double = 0.8, localDirectory: String? = nil, nanny: String = "",
            security: Security = .insecurePlaintext, sharedMemoryMinBytes: Int? = 1 << 20,
            closeTimeout: Duration = .seconds(10)
        ) {
            self.closeTimeout = closeTimeout
            self.security = security
            self.sharedMemoryMinBytes = sharedMemoryMinBytes
            self.scheduler = scheduler
            self.host = host
            self.port = port
            self.threads = threads
            self.name = name
            self.memoryLimit = memoryLimit
            self.memoryTargetFraction = memoryTargetFraction
            self.memorySpillFraction = memorySpillFraction
            self.memoryPauseFraction = memoryPauseFraction
            self.localDirectory = localDirectory
            self.nanny = nanny
        }
    }

    let options: Options
    /// Whether this worker serves its bulk stream (a wire front on its port) and offers large
    /// values there; off with `DROVER_PROTOCOL=grpc`.
    let servesBulk = BulkStream.isEnabled
    let registry: TaskRegistry
    let logger: Logger
    let policy: MemoryPolicy
    /// The worker's state, results and reports, shared by the connection and the task threads.
    let core: Mutex<WorkerCore>
    let environment: WorkerCore.Environment
    /// Whether results can go to shared memory (a segment server is up).
    let sharesMemory: Bool
    /// Ends when the worker is to stop (`Close`, or retiring without a scheduler).
    private let stopSignal: AsyncStream<Void>
    private let stopContinuation: AsyncStream<Void>.Continuation
    /// Transfers to start, on Swift's pool (gRPC must never wait behind a blocked task thread).
    /// Task bodies start straight on `pool` (they may block): see `start(_:)`.
    private let jobs: AsyncStream<Job>
    let jobQueue: AsyncStream<Job>.Continuation

    struct Job: Sendable {
        var body: @Sendable () async -> Void
    }
    let pool: ThreadPool
    /// One connection per peer, for fetching inputs.
    let peers: PeerConnections
    /// The client the worker's tasks share (``WorkerContext``), closed when the worker stops.
    let taskResources = SharedTaskResource()

    /// Creates a worker; nothing starts until ``run(onListening:)``.
    public init(options: Options, registry: TaskRegistry, logger: Logger) {
        self.options = options
        self.registry = registry
        self.logger = logger
        self.peers = PeerConnections(security: options.security)
        let policy = MemoryPolicy(
            limit: options.memoryLimit, targetFraction: options.memoryTargetFraction,
            spillFraction: options.memorySpillFraction, pauseFraction: options.memoryPauseFraction)
        self.policy = policy
        // Under systemd, the unit's RuntimeDirectory= (private to the service) when no directory is given.
        let parent = Drover.spillParent(localDirectory: options.localDirectory)
        // A nanny names the directory, so that it can remove it after this process, however it ends.
        let spill =
            ProcessInfo.processInfo.environment[Drover.spillDirectoryVariable].map { SpillDirectory(path: $0) }
            ?? SpillDirectory(parent: parent, pid: ProcessInfo.processInfo.processIdentifier)
        var segmentServer: SegmentServer?
        if options.sharedMemoryMinBytes != nil {
            do {
                segmentServer = try SegmentServer()
            } catch {
                logger.warning(
                    "shared memory is off: cannot serve segments", metadata: ["error": "\(error.message)"])
            }
        }
        let store = DataStore(
            directory: spill,
            segmentServer: segmentServer)
        self.core = Mutex(WorkerCore(threads: options.threads, store: store))
        self.sharesMemory = segmentServer != nil
        self.environment = WorkerCore.Environment(
            registry: registry, logger: logger, policy: policy, sharedMemoryMinBytes: options.sharedMemoryMinBytes)
        (jobs, jobQueue) = AsyncStream.makeStream(of: Job.self)
        (stopSignal, stopContinuation) = AsyncStream.makeStream(of: Void.self)
        pool = ThreadPool(threads: max(1, options.threads), name: "drover-worker")
    }

    /// Serves until the scheduler closes this worker or the task is cancelled; calls `onListening`
    /// with the address once peers can connect.
    ///
    /// On the way out the server finishes the transfers under way, running tasks finish, and the
    /// spill directory is removed.
    ///
    /// - Throws: When the server cannot listen.
    public func run(onListening: @escaping @Sendable (String) -> Void) async throws {
        // With the bulk stream, gRPC listens on a Unix socket in a private directory and the port
        // belongs to the wire front (as the scheduler's), which passes every connection that is
        // not a wire stream to it.
        if servesBulk {
            let removed = PrivateDirectory.removeAbandoned(prefix: "drover-worker", socketName: "grpc.sock")
            if !removed.isEmpty {
                logger.debug("removed directories of killed workers", metadata: ["directories": "\(removed.count)"])
            }
        }
        let privateDirectory = servesBulk ? try PrivateDirectory(prefix: "drover-worker") : nil
        let grpcSocket = privateDirectory.map { $0.path + "/grpc.sock" }
        let transport =
            if let grpcSocket {
                Transports.makeServer(
                    unixSocket: grpcSocket, maxMessageBytes: TransportLimits.maxWorkerMessageBytes,
                    security: options.security)
            } else {
                Transports.makeServer(
                    host: options.host, port: options.port, maxMessageBytes: TransportLimits.maxWorkerMessageBytes,
                    security: options.security)
            }
        let server = GRPCServer(
            transport: transport,
            services: [WorkerRPCService(runtime: self)],
            interceptors: Transports.interceptors(security: options.security, logger: logger)
        )
        defer {
            let segmentServer = core.withLock { core in
                core.store.removeAll()
                return core.store.segmentServer
            }
            segmentServer?.stop()
            pool.shutdown()
            privateDirectory?.remove()
        }
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await server.serve() }
            let front: WireServer?
            let port: Int
            if let grpcSocket {
                guard (try? await server.listeningAddress) != nil else {
                    throw RPCError(
                        code: .unavailable, message: "The worker's gRPC server could not listen on \(grpcSocket).")
                }
                do {
                    let wire = try await WireServer(
                        listening: .address(host: options.host, port: options.port), grpcSocketPath: grpcSocket,
                        security: options.security, maxMessageBytes: TransportLimits.maxWorkerMessageBytes,
                        kinds: [.bulk], logger: logger)
                    front = wire
                    guard let bound = wire.localPort else {
                        throw RPCError(code: .unavailable, message: "The worker's front did not bind a port.")
                    }
                    port = bound
                } catch {
                    server.beginGracefulShutdown()
                    throw error
                }
                let bulkStreams = front!.bulkStreams
                group.addTask {
                    await withDiscardingTaskGroup { streams in
                        for await connection in bulkStreams {
                            streams.addTask { await self.serveBulk(connection) }
                        }
                    }
                }
            } else {
                guard let bound = try await server.listeningAddress?.ipv4 else {
                    throw RPCError(code: .unavailable, message: "The worker's server did not bind an IPv4 address.")
                }
                front = nil
                port = bound.port
            }
            let address = "\(options.host):\(port)"
            core.withLock { core in
                core.address = address
                core.state = WorkerState(threads: options.threads, address: address)
            }
            onListening(address)
            let jobs = self.jobs
            group.addTask {
                await withDiscardingTaskGroup { inner in
                    for await job in jobs { inner.addTask { await job.body() } }
                }
            }
            await withDiscardingTaskGroup { connection in
                connection.addTask { await self.connectForever() }
                connection.addTask { await self.heartbeats() }
                connection.addTask { await self.monitorMemory() }
                for await _ in stopSignal {}  // until stop() or cancellation
                connection.cancelAll()
            }
            server.beginGracefulShutdown()
            await front?.close()
            jobQueue.finish()
            // Task bodies waiting on their client's futures end (with an error) rather than hold
            // the worker open; bodies waiting to rejoin run on.
            resumeAllRejoins()
            await taskResources.close()
            if !(await bodiesFinished(within: options.closeTimeout)) {
                let running = core.withLock { $0.bodiesRunning }
                logger.warning(
                    "stopping with task bodies still running",
                    metadata: ["task.count": "\(running)", "timeout": "\(options.closeTimeout)"])
            }
            await peers.close()
        }
    }

    // MARK: - Retiring and stopping

    /// Starts a graceful exit (SIGTERM): tells the scheduler this worker is retiring and goes on
    /// serving data and running what it has, until the scheduler, having copied the results only
    /// this worker holds to others, sends `Close`.
    ///
    /// Without a scheduler connection there is nobody to hand results to: ``run(onListening:)``
    /// winds down without waiting for one, and the caller may as well exit at once.
    ///
    /// - Parameter reason: Why, for the scheduler's logs ("SIGTERM").
    /// - Returns: Whether the worker is draining through the scheduler (false: it is stopping).
    @discardableResult
    public func retire(reason: String) -> Bool {
        enum Outcome {
            case alreadyStopping, noScheduler, draining
            case startedDraining(BatchingQueue<Drover_V1_WorkerEvent>, held: Int)
        }
        let outcome = core.withLock { core -> Outcome in
            guard !core.isStopping else { return .alreadyStopping }
            guard !core.isRetiring else { return .draining }
            guard core.isConnected, let outbox = core.outbox else { return .noScheduler }
            core.isRetiring = true
            return .startedDraining(outbox, held: core.store.ledger.count)
        }
        switch outcome {
        case .alreadyStopping:
            return false
        case .noScheduler:
            logger.info("stopping: no scheduler to hand results to", metadata: ["reason": "\(reason)"])
            stop()
            return false
        case .draining:
            return true
        case .startedDraining(let outbox, let held):
            logger.info("retiring", metadata: ["reason": "\(reason)", "task.count": "\(held)"])
            outbox.send(.with { $0.retiring = .with { $0.reason = reason } })
            return true
        }
    }

    /// Makes ``run(onListening:)`` wind down and return.
    private func stop() {
        let (wasStopping, outbox) = core.withLock { core in
            defer { core.isStopping = true }
            return (core.isStopping, core.outbox)
        }
        guard !wasStopping else { return }
        outbox?.finish()
        stopContinuation.finish()
    }

    private var isStopping: Bool { core.withLock { $0.isStopping } }

    // MARK: - The scheduler connection

    private func connectForever() async {
        var delay = Duration.milliseconds(100)
        while !Task.isCancelled {
            do {
                if WireClient.useGRPC {
                    try await withGRPCClient(
                        transport: try Transports.makeClient(to: options.scheduler, security: options.security)
                    ) { client in
                        try await self.stream(to: Drover_V1_Scheduler.Client(wrapping: client))
                    }
                } else {
                    try await wireStream()
                }
            } catch let error where !isStopping {
                if let reason = await ConnectionDiagnosis.explain(
                    options.scheduler, role: "scheduler", security: options.security, error: error)
                {
                    logger.error("cannot connect to the scheduler", metadata: ["reason": "\(reason)"])
                } else {
                    logger.warning(
                        "scheduler connection lost",
                        metadata: ["peer.address": "\(options.scheduler)", "error": "\(error)"]
                    )
                }
            } catch {}
            // A connection that got as far as registering starts the backoff over.
            let (wasConnected, isRetiring, isStopping) = detach()
            if wasConnected { delay = .milliseconds(100) }
            if isRetiring && !isStopping {
                // The scheduler that was moving our results is gone; a new one would not know us.
                logger.info("stopping: the scheduler went away while this worker was retiring")
                stop()
                return
            }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(5))
        }
    }

    /// The worker stream over gRPC (`DROVER_PROTOCOL=grpc`).
    private func stream(to scheduler: Drover_V1_Scheduler.Client<HTTP2ClientTransport.Posix>) async throws {
        let events = BatchingQueue<Drover_V1_WorkerEvent>()
        attach(events)
        try await scheduler.workerStream(
            options: TransportLimits.callOptions,
            requestProducer: { writer in try await StreamOutput(writer).forward(events, as: Self.messages) },
            onResponse: { response in try await self.receive(response.messages) }
        )
    }

    /// The worker stream over the wire (the default).
    private func wireStream() async throws {
        let events = BatchingQueue<Drover_V1_WorkerEvent>()
        attach(events)
        // Commands are handled on the event loop that read them: `received` takes the core's lock,
        // starts bodies and fetches as tasks of their own, and never blocks.
        try await WireClient.stream(
            .worker, to: options.scheduler, security: options.security, sending: events, as: Self.messages,
            onConnected: { self.connected() },
            onResponse: { (batch: Drover_V1_WorkerCommands) in self.received(batch.commands) }
        )
    }

    /// A batch of events as the messages of a worker stream.
    private static let messages: @Sendable ([Drover_V1_WorkerEvent]) -> [Drover_V1_WorkerEvents] = { batch in
        batch.batches().map { part in .with { $0.events = Array(part) } }
    }

    private func receive(_ commands: RPCAsyncSequence<Drover_V1_WorkerCommands, any Error>) async throws {
        connected()
        for try await batch in commands {
            received(batch.commands)
        }
    }

    /// A new connection: register, with an empty slate (the scheduler forgot us when we left).
    private func attach(_ continuation: BatchingQueue<Drover_V1_WorkerEvent>) {
        let (address, host, waiters) = core.withLock { core in
            let wasPaused = core.state.isPaused
            core.state = WorkerState(threads: options.threads, address: core.address)
            if wasPaused { _ = core.state.handle(.pauseChanged(true)) }
            core.store.removeAll()
            core.outbox = continuation
            // Workers that can hand each other results in shared memory say so (placement weighs it).
            let host = core.store.segmentServer != nil ? SharedMemoryHost.current : ""
            // The new state knows none of the tasks waiting to rejoin.
            return (core.address, host, core.takeAllRejoinWaiters())
        }
        for waiter in waiters { waiter.resume() }
        let registration = Drover_V1_RegisterWorker.with {
            $0.id = options.name ?? address
            $0.address = address
            $0.threads = Int32(options.threads)
            $0.memoryLimit = options.memoryLimit
            $0.functions = registry.names
            $0.nanny = options.nanny
            $0.host = host
        }
        continuation.send(.with { $0.register = registration })
    }

    /// The connection is up and its first message registers this worker.
    private func connected() {
        core.withLock { $0.isConnected = true }
        logger.info("registered with the scheduler", metadata: ["peer.address": "\(options.scheduler)"])
    }

    /// Ends the connection's outgoing stream; says whether the scheduler had answered on it, and
    /// whether the worker is retiring or stopping.
    private func detach() -> (wasConnected: Bool, isRetiring: Bool, isStopping: Bool) {
        core.withLock { core in
            defer {
                core.outbox = nil
                core.isConnected = false
            }
            core.outbox?.finish()
            return (core.isConnected, core.isRetiring, core.isStopping)
        }
    }

    /// Tells the scheduler how much memory this process uses, at once (the process just paused or
    /// resumed) or, from ``heartbeats()``, once a second.
    func sendHeartbeat(residentBytes: Int64? = nil) {
        let resident = residentBytes ?? processMemory() ?? 0
        core.withLock { core in
            guard core.isConnected, let outbox = core.outbox else { return }
            outbox.send(
                .with {
                    $0.heartbeat = .with {
                        $0.memoryBytes = resident
                        $0.managedBytes = core.store.managedBytes
                        $0.spilledBytes = core.store.spilledBytes
                        $0.paused = core.state.isPaused
                        $0.executing = Int32(core.state.executingCount)
                        $0.incomingTransfers = core.transfers.incoming
                        $0.incomingTransferBytes = core.transfers.incomingBytes
                        $0.incomingTransferSeconds = core.transfers.incomingSeconds
                        $0.outgoingTransferBytes = core.transfers.outgoingBytes
                    }
                })
        }
    }

    private func heartbeats() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            sendHeartbeat()
        }
    }

    // MARK: - Events in, effects out

    private func received(_ commands: [Drover_V1_WorkerCommand]) {
        HopTrace.mark("worker.received")
        var events: [WorkerState.Event] = []
        events.reserveCapacity(commands.count)
        for command in commands {
            switch command.kind {
            case .compute(let compute):
                guard let spec = try? TaskSpec(proto: compute.spec) else {
                    logger.warning("malformed task from the scheduler", metadata: ["task.key": "\(compute.spec.key)"])
                    continue
                }
                events.append(
                    .computeRequested(
                        spec,
                        priority: TaskPriority(
                            user: Int(compute.priorityUser), generation: Int(compute.priorityGeneration),
                            index: Int(compute.priorityIndex)),
                        dependencies: Self.holders(compute.dependencies)
                    )
                )
            case .free(let free):
                events.append(.freeRequested(free.keys.map { TaskKey($0) }))
            case .steal(let steal):
                events.append(.stealRequested(TaskKey(steal.key)))
            case .replicate(let replicate):
                events.append(.replicateRequested(Self.holders(replicate.keys)))
            case .close(let close):
                handle(events)
                logger.info("closing at the scheduler's request", metadata: ["reason": "\(close.reason)"])
                stop()
                return
            case nil:
                continue
            }
        }
        handle(events)
    }

    private static func holders(_ locations: [Drover_V1_DependencyLocation]) -> [TaskKey: [String]] {
        Dictionary(locations.map { (TaskKey($0.key), $0.addresses) }, uniquingKeysWith: { first, _ in first })
    }

    /// Feeds `events` to the worker's state under the lock, then carries out what follows.
    func handle(_ events: [WorkerState.Event]) {
        guard !events.isEmpty else { return }
        carryOut(core.withLock { $0.handle(events, in: environment) })
    }

    /// Starts the bodies and fetches the core asked for and wakes its waiters; never under the lock.
    func carryOut(_ effects: WorkerCore.Effects) {
        for body in effects.bodies { start(body) }
        for (keys, peer) in effects.fetches { startFetch(keys, from: peer) }
        for waiter in effects.resumes { waiter.resume() }
        for waiter in effects.idle { waiter.finish(true) }
    }
}
