public import DroverCore
import DroverLocal
public import DroverProto
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
public import Logging
import SwiftProtobuf

/// A worker process: runs what the scheduler assigns on `threads` threads of its own, keeps the
/// results, fetches inputs from peers, and serves its results to peers and clients.
///
/// Decisions are ``WorkerState``'s; this actor carries them out. When the scheduler goes away the
/// worker drops what it held and reconnects with backoff until it is back.
public actor WorkerRuntime {
    public struct Options: Sendable {
        public var scheduler: HostAndPort
        public var host: String
        public var port: Int
        public var threads: Int
        public var name: String?
        public var memoryLimit: Int64

        public init(
            scheduler: HostAndPort, host: String = "127.0.0.1", port: Int = 0, threads: Int = 1, name: String? = nil,
            memoryLimit: Int64 = 0
        ) {
            self.scheduler = scheduler
            self.host = host
            self.port = port
            self.threads = threads
            self.name = name
            self.memoryLimit = memoryLimit
        }
    }

    let options: Options
    let registry: TaskRegistry
    let logger: Logger
    private var state: WorkerState
    private var store: [TaskKey: Payload] = [:]
    private var address = ""
    private var outbox: BatchingQueue<Drover_V1_WorkerEvent>?
    private var pending: [Drover_V1_WorkerEvent] = []
    private var isConnected = false
    /// Work to start: task bodies run on `pool` (they may block); transfers run on Swift's pool
    /// (gRPC must never wait behind a blocked task thread).
    private let jobs: AsyncStream<Job>
    private let jobQueue: AsyncStream<Job>.Continuation

    private struct Job: Sendable {
        var runsTask: Bool
        var body: @Sendable () async -> Void
    }
    private let pool: ThreadPool
    /// One connection per peer, for fetching inputs.
    private let peers = PeerConnections()

    public init(options: Options, registry: TaskRegistry, logger: Logger) {
        self.options = options
        self.registry = registry
        self.logger = logger
        self.state = WorkerState(threads: options.threads, address: "")
        (jobs, jobQueue) = AsyncStream.makeStream(of: Job.self)
        pool = ThreadPool(threads: max(1, options.threads), name: "drover-worker")
    }

    /// Serves until cancelled; calls `onListening` with the address once peers can connect.
    public func run(onListening: @escaping @Sendable (String) -> Void) async throws {
        let server = GRPCServer(
            transport: .http2NIOPosix(
                address: .ipv4(host: options.host, port: options.port), transportSecurity: .plaintext,
                config: TransportLimits.server(maxMessageBytes: TransportLimits.maxWorkerMessageBytes)
            ),
            services: [WorkerRPCService(runtime: self)]
        )
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await server.serve() }
            guard let bound = try await server.listeningAddress?.ipv4 else {
                throw RPCError(code: .unavailable, message: "The worker's server did not bind an IPv4 address.")
            }
            address = "\(options.host):\(bound.port)"
            state = WorkerState(threads: options.threads, address: address)
            onListening(address)
            let jobs = self.jobs
            let pool = self.pool
            group.addTask {
                await withDiscardingTaskGroup { inner in
                    for await job in jobs {
                        if job.runsTask {
                            inner.addTask(executorPreference: pool) { await job.body() }
                        } else {
                            inner.addTask { await job.body() }
                        }
                    }
                }
            }
            group.addTask { await self.heartbeats() }
            await connectForever()
            server.beginGracefulShutdown()
            jobQueue.finish()
            await peers.close()
        }
        pool.shutdown()
    }

    // MARK: - The scheduler connection

    private func connectForever() async {
        var delay = Duration.milliseconds(100)
        while !Task.isCancelled {
            do {
                try await withGRPCClient(
                    transport: .http2NIOPosix(
                        target: .dns(host: options.scheduler.host, port: options.scheduler.port),
                        transportSecurity: .plaintext, config: TransportLimits.client
                    )
                ) { client in
                    try await self.stream(to: Drover_V1_Scheduler.Client(wrapping: client))
                }
            } catch {
                logger.warning(
                    "scheduler connection lost",
                    metadata: ["peer.address": "\(options.scheduler)", "error": "\(error)"]
                )
            }
            // A connection that got as far as registering starts the backoff over.
            if detach() { delay = .milliseconds(100) }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(5))
        }
    }

    private func stream(to scheduler: Drover_V1_Scheduler.Client<HTTP2ClientTransport.Posix>) async throws {
        let events = BatchingQueue<Drover_V1_WorkerEvent>()
        attach(events)
        try await scheduler.workerStream(
            options: TransportLimits.callOptions,
            requestProducer: { writer in
                for await batch in events {
                    for part in batch.batches() { try await writer.write(.with { $0.events = Array(part) }) }
                }
            },
            onResponse: { response in
                await self.markConnected()
                for try await batch in response.messages {
                    await self.received(batch.commands)
                }
            }
        )
    }

    /// A new connection: register, with an empty slate (the scheduler forgot us when we left).
    private func attach(_ continuation: BatchingQueue<Drover_V1_WorkerEvent>) {
        state = WorkerState(threads: options.threads, address: address)
        store = [:]
        outbox = continuation
        let registration = Drover_V1_RegisterWorker.with {
            $0.id = options.name ?? address
            $0.address = address
            $0.threads = Int32(options.threads)
            $0.memoryLimit = options.memoryLimit
            $0.functions = registry.names
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

    /// Tells the scheduler, once a second, how much memory this process uses.
    private func heartbeats() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            guard isConnected else { continue }
            let managed = store.values.reduce(Int64(0)) { $0 + Int64($1.data.count) }
            outbox?.send(
                .with {
                    $0.heartbeat = .with {
                        $0.memoryBytes = ProcessMemory.residentBytes() ?? 0
                        $0.managedBytes = managed
                        $0.executing = Int32(state.executingCount)
                    }
                })
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
                let dependencies = Dictionary(
                    compute.dependencies.map { (TaskKey($0.key), $0.addresses) },
                    uniquingKeysWith: { first, _ in first }
                )
                events.append(
                    .computeRequested(
                        spec,
                        priority: TaskPriority(
                            user: Int(compute.priorityUser), generation: Int(compute.priorityGeneration),
                            index: Int(compute.priorityIndex)),
                        dependencies: dependencies
                    )
                )
            case .free(let free):
                events.append(.freeRequested(free.keys.map { TaskKey($0) }))
            case .steal(let steal):
                events.append(.stealRequested(TaskKey(steal.key)))
            case .close, nil:
                continue
            }
        }
        handle(events)
    }

    private func handle(_ events: [WorkerState.Event]) {
        for event in events {
            for action in state.handle(event) { perform(action) }
        }
        if !pending.isEmpty {
            outbox?.send(contentsOf: pending)
            pending = []
        }
    }

    private func perform(_ action: WorkerState.Action) {
        switch action {
        case .execute(let key):
            execute(key)
        case .fetch(let keys, let peer):
            logger.trace("fetch started", metadata: ["peer.address": "\(peer)", "task.key": "\(keys[0])"])
            jobQueue.yield(
                Job(runsTask: false) { [logger] in
                    let outcome = await Self.fetch(keys, from: peer, connections: self.peers, logger: logger)
                    await self.fetched(outcome, keys: keys, from: peer)
                }
            )
        case .forget(let key):
            store[key] = nil
        case .reportFinished(let key, let nbytes, let duration):
            pending.append(
                .with {
                    $0.finished = .with {
                        $0.key = key.rawValue
                        $0.nbytes = nbytes
                        $0.durationSeconds = duration
                        $0.typeName = store[key]?.typeName ?? ""
                        if let payload = store[key], payload.data.count <= Self.inlineResultBytes {
                            $0.inline = payload.proto
                        }
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
        }
    }

    // MARK: - Running tasks

    /// Results this small travel with the finished report, so a waiting client needs no `GetData`.
    static let inlineResultBytes = 1024

    private func execute(_ key: TaskKey) {
        logger.trace("execute", metadata: ["task.key": "\(key)"])
        guard let spec = state.records[key]?.spec else { return }
        let location = address
        guard let function = registry[spec.function] else {
            let error = TaskError.unknownFunction(
                spec.function, key: key, known: registry.names, location: "worker \(location)")
            handle([.executionFailed(key, error)])
            return
        }
        let arguments = spec.arguments.map(resolve)
        jobQueue.yield(
            Job(runsTask: true) {
                let start = ContinuousClock.now
                let encoded = await function.runEncoded(key: key, arguments: arguments, location: "worker \(location)")
                await self.executed(key, encoded, seconds: (ContinuousClock.now - start).inSeconds)
            })
    }

    private func resolve(_ argument: ArgumentSpec) -> ArgumentValue {
        switch argument {
        case .value(let payload): .payload(payload)
        case .key(let key): store[key].map { .payload($0) } ?? .list([])
        case .list(let items): .list(items.map(resolve))
        }
    }

    private func executed(_ key: TaskKey, _ outcome: Result<Payload, TaskError>, seconds: Double) {
        switch outcome {
        case .success(let payload):
            store[key] = payload
            handle([.executionFinished(key, nbytes: Int64(payload.data.count), duration: seconds)])
        case .failure(let error):
            handle([.executionFailed(key, error)])
        }
    }

    // MARK: - Data transfer

    /// The results this worker holds, for `GetData`.
    func payload(for key: TaskKey) -> Payload? { store[key] }

    /// Values a client put here (scatter): kept as results the scheduler will track.
    func received(_ values: [TaskKey: Payload]) {
        for (key, payload) in values { store[key] = payload }
        handle([.dataReceived(values.mapValues { Int64($0.data.count) })])
    }

    private func fetched(_ outcome: Result<[TaskKey: Payload], any Error>, keys: [TaskKey], from peer: String) {
        logger.trace("fetch ended", metadata: ["peer.address": "\(peer)", "task.key": "\(keys[0])"])
        switch outcome {
        case .success(let values):
            var sizes: [TaskKey: Int64] = [:]
            for (key, payload) in values {
                store[key] = payload
                sizes[key] = Int64(payload.data.count)
            }
            let missing = keys.filter { values[$0] == nil }
            var events: [WorkerState.Event] = [.fetchFinished(sizes, from: peer)]
            if !missing.isEmpty { events.append(.fetchFailed(missing, from: peer)) }
            handle(events)
        case .failure(let error):
            logger.debug(
                "fetch failed",
                metadata: ["peer.address": "\(peer)", "error": "\(error)", "task.count": "\(keys.count)"])
            handle([.fetchFailed(keys, from: peer)])
        }
    }

    /// Fetches `keys` from the worker at `peer` with `GetData`.
    static func fetch(_ keys: [TaskKey], from peer: String, connections: PeerConnections, logger: Logger) async
        -> Result<[TaskKey: Payload], any Error>
    {
        do {
            return .success(try await DataFetch.fetch(keys, from: peer, connections: connections))
        } catch {
            logger.debug("fetch failed", metadata: ["peer.address": "\(peer)", "error": "\(error)"])
            return .failure(error)
        }
    }
}

/// The gRPC face of a worker: its results for peers and clients.
struct WorkerRPCService: Drover_V1_Worker.SimpleServiceProtocol {
    let runtime: WorkerRuntime

    func getData(
        request: Drover_V1_GetDataRequest,
        response: RPCWriter<Drover_V1_DataChunks>,
        context: ServerContext
    ) async throws {
        var packer = DataChunks.Packer()
        for key in request.keys.map({ TaskKey($0) }) {
            guard let payload = await runtime.payload(for: key) else {
                let missing = DataChunks.missing(key, reason: "this worker does not hold '\(key)'")
                if let message = packer.add(missing) { try await response.write(message) }
                continue
            }
            for chunk in DataChunks.split(payload, key: key) {
                if let message = packer.add(chunk) { try await response.write(message) }
            }
        }
        if let message = packer.flush() { try await response.write(message) }
    }

    func putData(
        request: RPCAsyncSequence<Drover_V1_DataChunks, any Error>,
        context: ServerContext
    ) async throws -> Drover_V1_PutDataResponse {
        var assembler = DataChunks.Assembler()
        do {
            for try await message in request {
                for chunk in message.chunks { try assembler.add(chunk) }
            }
        } catch let error as ProtoConversionError {
            runtime.logger.warning("refused malformed PutData", metadata: ["error": "\(error.message)"])
            throw RPCError(code: .invalidArgument, message: "PutData: \(error.message)")
        } catch {
            // The transport's own refusals (an oversize message) arrive here; it has ended the stream.
            runtime.logger.warning("PutData failed", metadata: ["error": "\(error)"])
            throw error
        }
        await runtime.received(assembler.values)
        return .with { $0.keys = assembler.values.keys.map(\.rawValue).sorted() }
    }
}
