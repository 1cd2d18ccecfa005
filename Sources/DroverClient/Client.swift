public import DroverCore
public import DroverProto
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
public import Logging
import SwiftProtobuf
import Synchronization

/// A connection to a Drover cluster, like `dask.distributed.Client`: submit functions, get
/// futures back at once, gather their results from the workers.
///
/// Futures are reference counted per key: when the last `Future` of a key is gone, the client tells
/// the scheduler, which frees the result on the workers (Dask's `del future`).
public final class Client: Sendable {
    let id: ClientID
    let scheduler: HostAndPort
    let logger: Logger
    let maxArgumentBytes: Int
    /// The connection to the scheduler: its event stream and `Identity` calls.
    let schedulerClient: GRPCClient<HTTP2ClientTransport.Posix>
    /// Connections to workers, for gather and scatter.
    let peers: PeerConnections
    private let outgoing = BatchingQueue<Drover_V1_ClientEvent>()
    private let connection: Task<Void, Never>
    let state = Mutex(State())
    /// The cluster this client started (``Client/local(workers:threadsPerWorker:memoryLimit:insecurePlaintext:transport:)``):
    /// it lives while the client does, and ``close()`` stops it.
    let ownedCluster = Mutex<LocalCluster?>(nil)
    /// `Variable.get` calls waiting for the scheduler's answer.
    let variableRequests = VariableRequests()

    struct State {
        /// Per key: its futures' references, where it stands, the tasks waiting for it and the
        /// completion streams watching it (one look-up for each).
        var keys = KeyTable<CheckedContinuation<KeyState, any Error>>()
        var nextWaiter = 0
        var closedReason: String?
        /// The workers connected, as the scheduler last said.
        var workers: [String] = []
        var workerWaiters: [(count: Int, continuation: CheckedContinuation<Void, any Error>)] = []
        /// Streams of keys as they complete (`wait`, `asCompleted`), by number (the keys' entries
        /// list the numbers watching each).
        var watchers: [Int: Watcher] = [:]

        /// A key is done: the watchers `numbers` to tell, and whether it was the last key each
        /// waited for.
        mutating func keyCompleted(watchers numbers: [Int]) -> [(AsyncStream<TaskKey>.Continuation, isLast: Bool)] {
            var told: [(AsyncStream<TaskKey>.Continuation, isLast: Bool)] = []
            for number in numbers {
                guard var watcher = watchers[number] else { continue }
                watcher.remaining -= 1
                watchers[number] = watcher.remaining == 0 ? nil : watcher
                told.append((watcher.continuation, watcher.remaining == 0))
            }
            return told
        }
    }

    struct Watcher {
        var remaining: Int
        let continuation: AsyncStream<TaskKey>.Continuation
    }

    /// Where a key stands, as the scheduler last said (or as this client decided, for `cancelled`).
    enum KeyState: Sendable {
        /// `inline` is the value itself, when the scheduler passed on a small result.
        case inMemory(holders: [String], inline: Payload?)
        case erred(TaskError)
        /// Every copy was lost; the scheduler is recomputing it.
        case lost
        case cancelled

        var isLost: Bool {
            if case .lost = self { return true }
            return false
        }
    }

    /// Connects to the scheduler at `address` (`host:port`, or `tls://host:port`).
    ///
    /// - Parameters:
    ///   - security: The client's certificate and the cluster's CA for mutual TLS, or
    ///     ``Security/insecurePlaintext`` for a scheduler without TLS.
    ///   - setAsDefault: Whether the client becomes the default scheduler of `compute()` on lazy
    ///     values until it is closed, as creating a `dask.distributed.Client` does.
    ///   - maxArgumentBytes: The most argument bytes one task may carry in a submission; larger
    ///     values belong on the workers already (``scatter(_:workers:)``).
    /// - Throws: ``ClientError`` when the address is not `host:port`, or `security` cannot work.
    public static func connect(
        _ address: String, security: Security = .insecurePlaintext, setAsDefault: Bool = true,
        maxArgumentBytes: Int = 64 << 20, logger: Logger = Logger(label: "drover.client")
    ) async throws -> Client {
        let endpoint = try schedulerEndpoint(address, security: security)
        let client = try Client(
            scheduler: endpoint, security: security, maxArgumentBytes: maxArgumentBytes, logger: logger)
        if setAsDefault { Drover.setDefaultCluster(client) }
        return client
    }

    /// The scheduler at `address` (`host:port` or `tls://host:port`), once `security` is known to
    /// work with it.
    ///
    /// - Throws: ``ClientError`` saying what is wrong with the address or the TLS settings.
    static func schedulerEndpoint(_ address: String, security: Security) throws -> HostAndPort {
        do {
            try security.validate()
            return try Transports.endpoint(address, role: "scheduler", security: security)
        } catch {
            throw ClientError(message: error.message)
        }
    }

    private init(scheduler: HostAndPort, security: Security, maxArgumentBytes: Int, logger: Logger) throws {
        self.id = ClientID("client-" + Token.random().prefix(12))
        self.maxArgumentBytes = maxArgumentBytes
        self.scheduler = scheduler
        self.logger = logger
        self.peers = PeerConnections(security: security)
        let grpc = GRPCClient(
            transport: try Transports.makeClient(to: scheduler, security: security)
        )
        self.schedulerClient = grpc
        let box = WeakClient()
        let events = outgoing
        let id = self.id
        // The registration goes first, ahead of anything the caller sends.
        events.send(.with { $0.register = .with { $0.id = id.rawValue } })
        let messages: @Sendable ([Drover_V1_ClientEvent]) -> [Drover_V1_ClientEvents] = { batch in
            // The registration travels alone, as the stream's first message: a first submission
            // over the scheduler's limit is then refused as such (a status naming the limit),
            // rather than making the stream's first message unreadable.
            var rest = batch[...]
            var messages: [Drover_V1_ClientEvents] = []
            if case .register = rest.first?.kind { messages.append(.with { $0.events = [rest.removeFirst()] }) }
            guard !rest.isEmpty else { return messages }
            // Messages of at most Client.messageBytes, so that a large map's parts reach the
            // scheduler one by one.
            let parts = Client.mergingReleases(rest).batches(maxBytes: Client.messageBytes, size: \.estimatedBytes)
            return messages + parts.map { part in .with { $0.events = Array(part) } }
        }
        self.connection = Task {
            do {
                try await withThrowingDiscardingTaskGroup { group in
                    group.addTask { try await grpc.runConnections() }
                    defer { grpc.beginGracefulShutdown() }
                    if WireClient.useGRPC {
                        try await Drover_V1_Scheduler.Client(wrapping: grpc).clientStream(
                            options: TransportLimits.callOptions,
                            requestProducer: { try await StreamOutput($0).forward(events, as: messages) },
                            onResponse: { response in
                                for try await batch in response.messages { box.client?.received(batch.updates) }
                            })
                    } else {
                        // Updates are handled on the event loop that read them (received never blocks).
                        try await WireClient.stream(
                            .client, to: scheduler, security: security, sending: events, as: messages,
                            onResponse: { (batch: Drover_V1_ClientUpdates) in box.client?.received(batch.updates) })
                    }
                }
                box.client?.closed(reason: "the client was closed")
            } catch {
                // A transport's refusal (gRPC's `unavailable`, a TLS error on the wire) may be a
                // TLS mismatch: say so in one sentence.
                let mismatch =
                    (error as? RPCError).map { $0.code == .unavailable } ?? true
                    ? await ConnectionDiagnosis.explain(scheduler, role: "scheduler", security: security, error: error)
                    : nil
                box.client?.closed(
                    reason: mismatch.map { String($0.dropLast()) }  // its sentence's period: the reason is quoted
                        ?? "the connection to the scheduler at \(scheduler) failed: \(error)")
            }
        }
        box.client = self
    }

    /// Closes the connection; the scheduler releases every key this client held. A client that
    /// started its cluster (``Client/local(workers:threadsPerWorker:memoryLimit:insecurePlaintext:transport:)``) stops it too.
    /// Waits at most 10 s for the scheduler (``close(timeout:)``).
    public func close() async {
        await close(timeout: .seconds(10))
    }

    /// Closes the connection as ``close()`` does.
    ///
    /// - Parameter timeout: How long to wait for the scheduler to end the stream once this client
    ///   has said it is done (Dask's `close(timeout=)`); a scheduler that is hung, or gone without
    ///   a word, is then left: the connection is cut and the close goes on.
    public func close(timeout: Duration) async {
        Drover.clearDefaultCluster(self)
        outgoing.finish()
        let connection = self.connection
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await connection.value
                return true
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            if await group.next() == false {
                logger.warning(
                    "the scheduler did not end the stream in time; cutting the connection",
                    metadata: ["peer.address": "\(scheduler)", "timeout": "\(timeout)"])
                // The stream's task ends on cancellation (its connection is closed).
                connection.cancel()
            }
            group.cancelAll()
        }
        await peers.close()
        await ownedCluster.withLock { $0.take() }?.stop()
    }

    deinit {
        outgoing.finish()
    }

    // MARK: - Submitting

    /// Runs `function` on the cluster and returns a future of its result at once.
    ///
    /// Arguments may be values, futures (the task then depends on them, wherever they are), lazy
    /// values, or arrays of these.
    ///
    /// - Parameters:
    ///   - key: The key of the task; by default `"<name>-<token>"`.
    ///   - pure: As for ``TaskFunction/delayed(_:key:pure:)``: the same call is computed once.
    ///   - workers: Worker ids or addresses the task may run on; empty means any.
    ///   - priority: Higher runs first, among tasks ready at the same time (Dask's `priority=`).
    ///   - retries: How many times to rerun the task if it fails.
    public func submit<each A: TaskArgument, each Parameter: TaskValue, Result: TaskValue>(
        _ function: TaskFunction<repeat each Parameter, Result>,
        _ arguments: repeat each A,
        key: TaskKey? = nil,
        pure: Bool = true,
        workers: [String] = [],
        priority: Int = 0,
        retries: Int = 0
    ) throws -> Future<Result> where repeat (each A).Value == each Parameter {
        let delayed = function.delayed(repeat each arguments, key: key, pure: pure)
        return try submit(delayed, workers: workers, priority: priority, retries: retries)
    }

    /// Runs `function` on each item (`Client.map`): one task, and one future, per item, sent to
    /// the scheduler as one submission.
    public func map<A: TaskArgument, Result: TaskValue>(
        _ function: TaskFunction<A.Value, Result>,
        _ items: [A],
        pure: Bool = true,
        workers: [String] = [],
        priority: Int = 0,
        retries: Int = 0
    ) throws -> [Future<Result>] {
        let delayed = items.map { function.delayed($0, pure: pure) }
        return try submit(delayed, workers: workers, priority: priority, retries: retries)
    }

    /// Computes a lazy value on the cluster and returns a future of it.
    public func submit<Value: TaskValue>(
        _ delayed: Delayed<Value>, workers: [String] = [], priority: Int = 0, retries: Int = 0
    ) throws -> Future<Value> {
        try submit([delayed], workers: workers, priority: priority, retries: retries)[0]
    }

    /// Computes lazy values on the cluster in one submission and returns a future of each.
    ///
    /// `workers`, `priority` and `retries` apply to the values asked for, not to the tasks they
    /// depend on.
    public func submit<Value: TaskValue>(
        _ values: [Delayed<Value>], workers: [String] = [], priority: Int = 0, retries: Int = 0
    ) throws -> [Future<Value>] {
        var futures: [Future<Value>] = []
        _ = try submit(nodes: values.map(\.node), workers: workers, priority: priority, retries: retries) { key in
            futures.append(Future<Value>(key: key, client: self))
        }
        return futures
    }

    /// Sends `roots` and the tasks they need as one submission; `hold` takes a reference to each
    /// root's key (by default, a bare retain the caller must release).
    func submit(
        nodes roots: [DelayedNode], workers: [String] = [], priority: Int = 0, retries: Int = 0,
        hold: ((TaskKey) -> Void)? = nil
    ) throws -> [TaskKey] {
        let nodes = DelayedNode.dependenciesFirst(roots)
        if let invalid = nodes.first(where: { $0.invalidReason != nil }) {
            throw ClientError(message: "Task '\(invalid.spec.key)' cannot run: \(invalid.invalidReason!)")
        }
        let specs = nodes.map(\.spec.proto)
        if let large = specs.first(where: { $0.estimatedBytes > maxArgumentBytes }) {
            throw ClientError(
                message: "Task '\(large.key)' carries \(large.estimatedBytes) bytes of arguments in its graph "
                    + "(at most \(maxArgumentBytes)): scatter large values first (client.scatter) and pass "
                    + "the future instead.")
        }
        let keys = roots.map(\.spec.key)
        for key in keys { hold.map { $0(key) } ?? retain(key) }
        for part in Self.submissionParts(
            specs, wants: keys, workers: workers, priority: priority, retries: retries)
        {
            outgoing.send(.with { $0.submit = part })
        }
        return keys
    }

    /// The messages of one submission of `specs` (dependencies first) wanting `wants`, whose
    /// wanted tasks carry `workers`, `priority` and `retries`. A submission in which every task is
    /// wanted (a map) goes in parts of ``submissionPartTasks``: the scheduler starts the first
    /// part's tasks while the client still encodes and sends the rest. A part never holds a task
    /// only a later part wants (the scheduler would forget it before that part came), so a graph
    /// with tasks it does not want goes whole.
    static func submissionParts(
        _ specs: [Drover_V1_TaskSpec], wants: [TaskKey], workers: [String], priority: Int, retries: Int
    ) -> [Drover_V1_SubmitGraph] {
        guard !specs.isEmpty else { return [] }
        let wanted = Set(wants)
        let inParts = specs.count == wanted.count
        let size = inParts ? submissionPartTasks : specs.count
        return stride(from: 0, to: specs.count, by: size).map { start in
            .with { graph in
                graph.tasks = specs[start..<min(specs.count, start + size)].map { spec in
                    .with {
                        $0.spec = spec
                        if wanted.contains(TaskKey(spec.key)) {
                            $0.allowedWorkers = workers
                            $0.retries = Int32(retries)
                            $0.priority = Int32(clamping: priority)
                        }
                    }
                }
                graph.wants = inParts ? graph.tasks.map(\.spec.key) : wants.map(\.rawValue)
            }
        }
    }

    /// `events` with each run of consecutive releases as one release of their keys (at most
    /// ``releaseKeysPerEvent`` keys and about ``messageBytes`` each): a future dropped is one
    /// event, a map's futures dropped together are one for the scheduler to handle. Only
    /// neighbours merge, so a release never moves past a submission of the same key.
    static func mergingReleases(_ events: ArraySlice<Drover_V1_ClientEvent>) -> [Drover_V1_ClientEvent] {
        var merged: [Drover_V1_ClientEvent] = []
        merged.reserveCapacity(events.count)
        var keys: [String] = []
        var bytes = 0
        func flush() {
            guard !keys.isEmpty else { return }
            merged.append(.with { $0.release = .with { $0.keys = keys } })
            keys = []
            bytes = 0
        }
        for event in events {
            if case .release(let release) = event.kind {
                let eventBytes = event.estimatedBytes
                if keys.count + release.keys.count > releaseKeysPerEvent || bytes + eventBytes > messageBytes {
                    flush()
                }
                keys += release.keys
                bytes += eventBytes
            } else {
                flush()
                merged.append(event)
            }
        }
        flush()
        return merged
    }

    /// The most keys one merged release carries.
    static let releaseKeysPerEvent = 16_384

    /// The most tasks in one part of a submission sent in parts (``submit(nodes:workers:priority:retries:hold:)``).
    static let submissionPartTasks = 1024

    /// The most bytes of events in one message to the scheduler (one event may be larger).
    static let messageBytes = 256 << 10

    /// Sends an event to the scheduler (batched with whatever else is waiting).
    func send(_ event: Drover_V1_ClientEvent) {
        outgoing.send(event)
    }

    /// The results of `futures`, in order, fetched from the workers with one request per worker.
    ///
    /// A worker that dies before its data is fetched costs a retry: the scheduler recomputes what
    /// it held and says where the new copy is.
    public func gather<Value: TaskValue>(_ futures: [Future<Value>]) async throws -> [Value] {
        try await gatherPayloads(futures.map(\.key)).map { try Value.decode(payload: $0) }
    }

    /// The values of `keys`, as stored and in order, fetched from their workers at once (one
    /// request per worker); inline results (most small ones) are taken as they stand.
    func gatherPayloads(_ keys: [TaskKey]) async throws -> [Payload] {
        var payloads = [Payload?](repeating: nil, count: keys.count)
        var attempts = 0
        while true {
            // The positions still missing, by the worker to ask.
            var byWorker: [String: [Int]] = [:]
            for index in keys.indices where payloads[index] == nil {
                let key = keys[index]
                switch try await wait(for: key) {
                case .inMemory(_, let inline?):
                    payloads[index] = inline
                case .inMemory(let holders, nil):
                    guard let first = holders.first else {
                        throw ClientError(message: "The scheduler says '\(key)' is in memory, but on no worker.")
                    }
                    byWorker[first, default: []].append(index)
                case .erred(let error):
                    throw error
                case .cancelled:
                    throw CancelledError(key: key)
                case .lost:
                    preconditionFailure("wait(for:) never returns a lost key")
                }
            }
            if byWorker.isEmpty { break }
            let fetched = await withTaskGroup(of: (String, [Int], Result<[TaskKey: Payload], any Error>).self) {
                group in
                for (worker, indices) in byWorker {
                    let asked = Array(Set(indices.map { keys[$0] }))
                    group.addTask {
                        do {
                            return (worker, indices, .success(try await self.fetch(asked, from: worker)))
                        } catch {
                            return (worker, indices, .failure(error))
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            for (worker, indices, outcome) in fetched {
                switch outcome {
                case .success(let values):
                    for index in indices { payloads[index] = values[keys[index]] }
                    if let missing = indices.first(where: { payloads[$0] == nil }).map({ keys[$0] }),
                        isKnown(missing, on: worker)
                    {
                        throw ClientError(message: "The worker at \(worker) no longer holds '\(missing)'.")
                    }
                case .failure(let error):
                    attempts += 1
                    guard attempts <= Self.gatherAttempts else {
                        throw ClientError(
                            message: "Could not fetch \(indices.count) results from the worker at \(worker) after "
                                + "\(attempts) attempts: \(error)")
                    }
                    if isConnected(worker) {
                        // Still there by the scheduler's word: a passing failure, or the scheduler
                        // has yet to notice it is gone. Try again shortly; a refusal that persists
                        // reaches the caller instead of a wait for news that never comes.
                        logger.debug("gather failed; trying again", metadata: ["peer.address": "\(worker)"])
                        try await Task.sleep(for: .milliseconds(50 << min(attempts, 6)))
                    } else {
                        logger.debug("gather failed; waiting for new copies", metadata: ["peer.address": "\(worker)"])
                        forgetLocations(of: indices.map { keys[$0] }, on: worker)
                    }
                }
            }
        }
        return payloads.map { $0! }
    }

    /// Whether the scheduler last said `worker` (an address) is connected.
    private func isConnected(_ worker: String) -> Bool {
        state.withLock { $0.workers.contains(worker) }
    }

    /// Whether the client still believes `key` is on `worker` (false once it was told otherwise).
    private func isKnown(_ key: TaskKey, on worker: String) -> Bool {
        state.withLock { state in
            if case .inMemory(let holders, _) = state.keys.known(key) { return holders.contains(worker) }
            return false
        }
    }

    /// How many failed fetches a gather survives.
    static let gatherAttempts = 8

    /// Forgets that `keys` are on `worker` (on any worker when nil). A key with other holders is
    /// fetched from them next; one with none waits for the scheduler's next word on it.
    private func forgetLocations(of keys: [TaskKey], on worker: String?) {
        state.withLock { state in
            for key in keys { state.keys.forgetLocation(of: key, on: worker) }
        }
    }

    // MARK: - Futures

    func retain(_ key: TaskKey) {
        state.withLock { $0.keys.retain(key) }
    }

    func release(_ key: TaskKey) {
        let isLast = state.withLock { $0.keys.release(key) }
        if isLast {
            outgoing.send(.with { $0.release = .with { $0.keys = [key.rawValue] } })
        }
    }

    /// Where `key` stands as far as this client knows.
    func status(of key: TaskKey) -> FutureStatus {
        switch state.withLock({ $0.keys.known(key) }) {
        case nil: .pending
        case .inMemory: .finished
        case .erred: .error
        case .lost: .lost
        case .cancelled: .cancelled
        }
    }

    /// Waits until the scheduler reports `key` finished or failed (or this client cancels it).
    ///
    /// - Throws: `CancellationError` when the waiting task is cancelled; ``ClientError`` when the
    ///   connection is gone.
    func wait(for key: TaskKey) async throws -> KeyState {
        // Settled already (most keys of a gather that follows its map): no continuation to make.
        if let known = state.withLock({ $0.keys.known(key) }), !known.isLost { return known }
        let number = state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let ready: Result<KeyState, any Error>? = state.withLock { state in
                    if state.closedReason == nil && !Task.isCancelled {
                        // The common case, with one look-up: settled, or now waited for.
                        return state.keys.wait(for: key, number: number, waiter: continuation).map { .success($0) }
                    }
                    if let known = state.keys.known(key), !known.isLost { return .success(known) }
                    if let reason = state.closedReason {
                        return .failure(ClientError(message: "The client is closed: \(reason)."))
                    }
                    return .failure(CancellationError())
                }
                if let ready { continuation.resume(with: ready) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.keys.removeWaiter(number, of: key) }
            waiter?.resume(throwing: CancellationError())
        }
    }

    func fetch(_ keys: [TaskKey], from worker: String) async throws -> [TaskKey: Payload] {
        try await DataFetch.fetch(keys, from: worker, connections: peers)
    }

    // MARK: - Updates from the scheduler

    private func received(_ updates: [Drover_V1_ClientUpdate]) {
        HopTrace.mark("client.received")
        var resumed: [(CheckedContinuation<KeyState, any Error>, KeyState)] = []
        var watchers: [(AsyncStream<TaskKey>.Continuation, isLast: Bool, key: TaskKey)] = []
        var workersReady: [CheckedContinuation<Void, any Error>] = []
        state.withLock { state in
            for update in updates {
                if case .workers(let workers) = update.kind {
                    state.workers = workers.addresses
                    let count = workers.addresses.count
                    workersReady += state.workerWaiters.filter { $0.count <= count }.map(\.continuation)
                    state.workerWaiters.removeAll { $0.count <= count }
                    continue
                }
                let key: TaskKey
                let keyState: KeyState
                switch update.kind {
                case .inMemory(let memory):
                    key = TaskKey(memory.key)
                    keyState = .inMemory(
                        holders: memory.holders, inline: memory.hasInline ? Payload(proto: memory.inline) : nil)
                case .erred(let erred):
                    key = TaskKey(erred.key.isEmpty ? erred.error.key : erred.key)
                    keyState = .erred(TaskError(proto: erred.error))
                case .lost(let lost):
                    key = TaskKey(lost.key)
                    keyState = .lost
                case .variable(let variable):
                    if variable.timedOut {
                        variableRequests.timeOut(variable.request)
                    } else {
                        variableRequests.answer(variable.request, with: Payload(proto: variable.value))
                    }
                    continue
                case .workers, nil:
                    continue
                }
                // Nil when released or cancelled meanwhile; a lost key tells nobody.
                guard let completion = state.keys.update(key, to: keyState) else { continue }
                for waiter in completion.waiters { resumed.append((waiter, keyState)) }
                if !completion.watchers.isEmpty {
                    watchers += state.keyCompleted(watchers: completion.watchers).map { ($0.0, $0.isLast, key) }
                }
            }
        }
        for (waiter, keyState) in resumed { waiter.resume(returning: keyState) }
        for (watcher, isLast, key) in watchers {
            watcher.yield(key)
            if isLast { watcher.finish() }
        }
        for waiter in workersReady { waiter.resume() }
    }

    private func closed(reason: String) {
        Drover.clearDefaultCluster(self)
        let (waiters, workerWaiters, watchers) = state.withLock { state in
            state.closedReason = reason
            defer {
                state.workerWaiters = []
                state.watchers = [:]
            }
            return (
                state.keys.takeAllWaiters(), state.workerWaiters.map(\.continuation),
                state.watchers.values.map(\.continuation)
            )
        }
        let error = ClientError(message: "The client is closed: \(reason).")
        for waiter in waiters { waiter.resume(throwing: error) }
        for waiter in workerWaiters { waiter.resume(throwing: error) }
        for watcher in watchers { watcher.finish() }  // short of their count: the caller sees why
        variableRequests.failAll(error)
    }

    /// The keys, each once, as they complete (finish, fail or are cancelled); those already done
    /// first. The stream ends when all have, or when the client closes.
    func completions(of keys: Set<TaskKey>) -> AsyncStream<TaskKey> {
        let (stream, continuation) = AsyncStream.makeStream(of: TaskKey.self)
        let (number, ready, isWatching) = state.withLock { state -> (Int, [TaskKey], Bool) in
            let number = state.nextWaiter
            state.nextWaiter += 1
            var ready: [TaskKey] = []
            var pending = 0
            for key in keys {
                if state.keys.isSettled(key, elseWatchAs: number, watch: state.closedReason == nil) {
                    ready.append(key)
                } else if state.closedReason == nil {
                    pending += 1
                }
            }
            if pending > 0 { state.watchers[number] = Watcher(remaining: pending, continuation: continuation) }
            return (number, ready, pending > 0)
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.watchers.removeValue(forKey: number) }
        }
        for key in ready { continuation.yield(key) }
        if !isWatching { continuation.finish() }
        return stream
    }
}

/// Lets the connection task reach the client without keeping it alive.
private final class WeakClient: @unchecked Sendable {
    // @unchecked: written once, before the connection task first reads it, then only read.
    weak var client: Client?
}

/// A failure of the client itself (not of a task).
public struct ClientError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure: ``Code/timedOut`` for a wait given a timeout, else ``Code/failed``.
    public var code: Code
    public var message: String
    public var description: String { message }

    /// Creates an error of kind ``Code/failed``.
    public init(message: String) {
        self.init(code: .failed, message: message)
    }

    /// Creates an error of the kind `code`.
    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    /// The kind of a ``ClientError`` (a struct, so that new kinds do not break callers).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: Hashable, Sendable {
            case failed, timedOut
        }
        private let wrapped: Wrapped

        /// The client, its connection or a request failed.
        public static let failed = Code(wrapped: .failed)
        /// A `get`, `acquire` or `wait` given a `timeout:` gave up (Dask's `TimeoutError`).
        public static let timedOut = Code(wrapped: .timedOut)

        public var description: String { wrapped == .failed ? "failed" : "timedOut" }
    }
}
