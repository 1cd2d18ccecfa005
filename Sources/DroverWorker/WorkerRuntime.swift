public import DroverCore
import DroverLocal
public import DroverProto
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
public import Logging
import SwiftProtobuf

/// A worker process: runs what the scheduler assigns on `threads` threads of its own, keeps the
/// results (spilling them to disk when memory runs short), fetches inputs from peers, and serves
/// its results to peers and clients.
///
/// Decisions are ``WorkerState``'s and ``MemoryPolicy``'s; this actor carries them out. When the
/// scheduler goes away the worker drops what it held and reconnects with backoff until it is back.
/// ``run(onListening:)`` returns when the scheduler sends `Close` (after ``retire(reason:)``, or
/// to stop the worker) or when its task is cancelled.
public actor WorkerRuntime {
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

        /// Creates options; the memory fractions default to Dask's 0.60, 0.70 and 0.80.
        public init(
            scheduler: HostAndPort, host: String = "127.0.0.1", port: Int = 0, threads: Int = 1, name: String? = nil,
            memoryLimit: Int64 = 0, memoryTargetFraction: Double = 0.6, memorySpillFraction: Double = 0.7,
            memoryPauseFraction: Double = 0.8, localDirectory: String? = nil, nanny: String = "",
            security: Security = .insecurePlaintext, sharedMemoryMinBytes: Int? = 1 << 20
        ) {
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
    nonisolated let servesBulk = BulkStream.isEnabled
    let registry: TaskRegistry
    let logger: Logger
    let policy: MemoryPolicy
    var state: WorkerState
    var store: DataStore
    private(set) var address = ""
    private var outbox: BatchingQueue<Drover_V1_WorkerEvent>?
    private var pending: [Drover_V1_WorkerEvent] = []
    private var acquired: [(key: TaskKey, nbytes: Int64)] = []
    /// Tasks started during this `handle`, reported in one `TasksStarted` (a worker that dies is
    /// blamed only for the tasks it had started).
    var started: [TaskKey] = []
    private(set) var isConnected = false
    /// `retire` was called: the scheduler is moving this worker's results away.
    private var isRetiring = false
    private var isStopping = false
    /// Ends when the worker is to stop (`Close`, or retiring without a scheduler).
    private let stopSignal: AsyncStream<Void>
    private let stopContinuation: AsyncStream<Void>.Continuation
    /// The last spill failed: later failures are logged at debug until one succeeds.
    var isSpillFailing = false
    /// Transfers to start, on Swift's pool (gRPC must never wait behind a blocked task thread).
    /// Task bodies start straight on `pool` (they may block): see `execute`.
    private let jobs: AsyncStream<Job>
    let jobQueue: AsyncStream<Job>.Continuation

    struct Job: Sendable {
        var body: @Sendable () async -> Void
    }
    let pool: ThreadPool
    /// Task bodies started and not yet finished, and who waits for there to be none.
    var bodiesRunning = 0
    var bodiesDone: [CheckedContinuation<Void, Never>] = []
    /// One connection per peer, for fetching inputs.
    let peers: PeerConnections
    /// Peer transfers since this process started, for heartbeats: fetches that succeeded, their
    /// bytes and seconds, and bytes served by `GetData`.
    var incomingTransfers: Int64 = 0
    var incomingTransferBytes: Int64 = 0
    var incomingTransferSeconds: Double = 0
    var outgoingTransferBytes: Int64 = 0
    /// Seceded tasks waiting for a thread slot (``rejoin(_:)``), by key.
    var rejoinWaiters: [TaskKey: [CheckedContinuation<Void, Never>]] = [:]
    /// The client the worker's tasks share (``WorkerContext``), closed when the worker stops.
    let taskResources = SharedTaskResource()

    /// Creates a worker; nothing starts until ``run(onListening:)``.
    public init(options: Options, registry: TaskRegistry, logger: Logger) {
        self.options = options
        self.registry = registry
        self.logger = logger
        self.peers = PeerConnections(security: options.security)
        self.policy = MemoryPolicy(
            limit: options.memoryLimit, targetFraction: options.memoryTargetFraction,
            spillFraction: options.memorySpillFraction, pauseFraction: options.memoryPauseFraction)
        self.state = WorkerState(threads: options.threads, address: "")
        // Under systemd, the unit's RuntimeDirectory= (private to the service) when no directory is given.
        let runtimeDirectory = ProcessInfo.processInfo.environment["RUNTIME_DIRECTORY"]?.split(separator: ":").first
        let parent =
            options.localDirectory ?? runtimeDirectory.map(String.init) ?? FileManager.default.temporaryDirectory.path
        var segmentServer: SegmentServer?
        if options.sharedMemoryMinBytes != nil {
            do {
                segmentServer = try SegmentServer()
            } catch {
                logger.warning(
                    "shared memory is off: cannot serve segments", metadata: ["error": "\(error.message)"])
            }
        }
        self.store = DataStore(
            directory: SpillDirectory(parent: parent, pid: ProcessInfo.processInfo.processIdentifier),
            segmentServer: segmentServer)
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
            store.removeAll()
            store.segmentServer?.stop()
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
            address = "\(options.host):\(port)"
            state = WorkerState(threads: options.threads, address: address)
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
            await bodiesFinished()
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
        guard !isStopping else { return false }
        guard !isRetiring else { return true }
        guard isConnected, let outbox else {
            logger.info("stopping: no scheduler to hand results to", metadata: ["reason": "\(reason)"])
            stop()
            return false
        }
        isRetiring = true
        logger.info("retiring", metadata: ["reason": "\(reason)", "task.count": "\(store.ledger.count)"])
        outbox.send(.with { $0.retiring = .with { $0.reason = reason } })
        return true
    }

    /// Makes ``run(onListening:)`` wind down and return.
    private func stop() {
        guard !isStopping else { return }
        isStopping = true
        outbox?.finish()
        stopContinuation.finish()
    }

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
            if detach() { delay = .milliseconds(100) }
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
            requestProducer: { writer in try await Self.send(events, to: writer) },
            onResponse: { response in try await self.receive(response.messages) }
        )
    }

    /// The worker stream over the wire (the default).
    private func wireStream() async throws {
        let events = BatchingQueue<Drover_V1_WorkerEvent>()
        attach(events)
        try await WireClient.bidirectional(
            .worker, to: options.scheduler, security: options.security,
            requestProducer: { writer in try await Self.send(events, to: writer) },
            onResponse: { (commands: RPCAsyncSequence<Drover_V1_WorkerCommands, any Error>) in
                try await self.receive(commands)
            }
        )
    }

    private static func send(
        _ events: BatchingQueue<Drover_V1_WorkerEvent>, to writer: RPCWriter<Drover_V1_WorkerEvents>
    ) async throws {
        for await batch in events {
            for part in batch.batches() { try await writer.write(.with { $0.events = Array(part) }) }
        }
    }

    private func receive(_ commands: RPCAsyncSequence<Drover_V1_WorkerCommands, any Error>) async throws {
        markConnected()
        for try await batch in commands {
            received(batch.commands)
        }
    }

    /// A new connection: register, with an empty slate (the scheduler forgot us when we left).
    private func attach(_ continuation: BatchingQueue<Drover_V1_WorkerEvent>) {
        let wasPaused = state.isPaused
        state = WorkerState(threads: options.threads, address: address)
        if wasPaused { _ = state.handle(.pauseChanged(true)) }
        resumeAllRejoins()  // the new state knows none of them
        store.removeAll()
        outbox = continuation
        let registration = Drover_V1_RegisterWorker.with {
            $0.id = options.name ?? address
            $0.address = address
            $0.threads = Int32(options.threads)
            $0.memoryLimit = options.memoryLimit
            $0.functions = registry.names
            $0.nanny = options.nanny
            // Workers that can hand each other results in shared memory say so (placement weighs it).
            $0.host = store.segmentServer != nil ? SharedMemoryHost.current : ""
        }
        continuation.send(.with { $0.register = registration })
        logger.info("registered with the scheduler", metadata: ["peer.address": "\(options.scheduler)"])
    }

    private func markConnected() {
        isConnected = true
    }

    /// Ends the connection's outgoing stream; true when the scheduler had answered on it.
    private func detach() -> Bool {
        defer {
            outbox = nil
            isConnected = false
        }
        outbox?.finish()
        return isConnected
    }

    /// Tells the scheduler how much memory this process uses, at once (the process just paused or
    /// resumed) or, from ``heartbeats()``, once a second.
    func sendHeartbeat(residentBytes: Int64? = nil) {
        guard isConnected, let outbox else { return }
        outbox.send(
            .with {
                $0.heartbeat = .with {
                    $0.memoryBytes = residentBytes ?? processMemory() ?? 0
                    $0.managedBytes = store.managedBytes
                    $0.spilledBytes = store.spilledBytes
                    $0.paused = state.isPaused
                    $0.executing = Int32(state.executingCount)
                    $0.incomingTransfers = incomingTransfers
                    $0.incomingTransferBytes = incomingTransferBytes
                    $0.incomingTransferSeconds = incomingTransferSeconds
                    $0.outgoingTransferBytes = outgoingTransferBytes
                }
            })
    }

    private func heartbeats() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            sendHeartbeat()
        }
    }

    // MARK: - Events in, actions out

    private func received(_ commands: [Drover_V1_WorkerCommand]) {
        var events: [WorkerState.Event] = []
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

    func handle(_ events: [WorkerState.Event]) {
        for event in events {
            for action in state.handle(event) { perform(action) }
        }
        if !started.isEmpty {
            let keys = started.map(\.rawValue)
            pending.insert(.with { $0.started = .with { $0.keys = keys } }, at: 0)
            started = []
        }
        if !acquired.isEmpty {
            pending.append(
                .with {
                    $0.acquired = .with {
                        $0.keys = acquired.map(\.key.rawValue)
                        $0.nbytes = acquired.map(\.nbytes)
                    }
                })
            acquired = []
        }
        if !pending.isEmpty {
            outbox?.send(contentsOf: pending)
            pending = []
        }
    }

    func perform(_ action: WorkerState.Action) {
        switch action {
        case .execute(let key):
            execute(key)
        case .fetch(let keys, let peer):
            logger.trace("fetch started", metadata: ["peer.address": "\(peer)", "task.key": "\(keys[0])"])
            let sharing = store.segmentServer != nil
            jobQueue.yield(
                Job { [logger] in
                    let start = ContinuousClock.now
                    let outcome = await Self.fetch(
                        keys, from: peer, connections: self.peers, sharing: sharing, logger: logger)
                    let seconds = (ContinuousClock.now - start).inSeconds
                    await self.fetched(outcome, keys: keys, from: peer, seconds: seconds)
                }
            )
        case .forget(let key):
            store.remove(key)
        case .reportFinished(let key, let nbytes, let duration, let inline):
            let value = inline ? payload(for: key) : nil
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
            logger.debug("input missing", metadata: ["task.key": "\(key)", "peer.address": "\(holder)"])
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
            resumeRejoined(key)
        }
    }
}
