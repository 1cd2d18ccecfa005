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
    private let outgoing: AsyncStream<Drover_V1_ClientEvents>.Continuation
    private let connection: Task<Void, Never>
    private let state = Mutex(State())

    private struct State {
        var references: [TaskKey: Int] = [:]
        var keys: [TaskKey: KeyState] = [:]
        var waiters: [TaskKey: [CheckedContinuation<KeyState, any Error>]] = [:]
        var closedReason: String?
    }

    /// Where a key stands, as the scheduler last said.
    enum KeyState: Sendable {
        case inMemory(holders: [String])
        case erred(TaskError)
    }

    /// Connects to the scheduler at `address` (`host:port`).
    ///
    /// - Throws: ``ClientError`` when the address is not `host:port`.
    public static func connect(_ address: String, logger: Logger = Logger(label: "drover.client")) async throws
        -> Client
    {
        guard let endpoint = HostAndPort(address) else {
            throw ClientError(message: "'\(address)' is not a scheduler address of the form host:port.")
        }
        return Client(scheduler: endpoint, logger: logger)
    }

    private init(scheduler: HostAndPort, logger: Logger) {
        self.id = ClientID("client-" + Token.random().prefix(12))
        self.scheduler = scheduler
        self.logger = logger
        let (events, continuation) = AsyncStream.makeStream(of: Drover_V1_ClientEvents.self)
        self.outgoing = continuation
        let box = WeakClient()
        let id = self.id
        self.connection = Task {
            do {
                try await withGRPCClient(
                    transport: .http2NIOPosix(
                        target: .dns(host: scheduler.host, port: scheduler.port), transportSecurity: .plaintext)
                ) { client in
                    try await Drover_V1_Scheduler.Client(wrapping: client).clientStream(
                        requestProducer: { writer in
                            try await writer.write(
                                .with { $0.events = [.with { $0.register = .with { $0.id = id.rawValue } }] })
                            for await batch in events { try await writer.write(batch) }
                        },
                        onResponse: { response in
                            for try await batch in response.messages { box.client?.received(batch.updates) }
                        }
                    )
                }
                box.client?.closed(reason: "the client was closed")
            } catch {
                box.client?.closed(reason: "the connection to the scheduler at \(scheduler) failed: \(error)")
            }
        }
        box.client = self
    }

    /// Closes the connection; the scheduler releases every key this client held.
    public func close() async {
        outgoing.finish()
        await connection.value
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
    ///   - retries: How many times to rerun the task if it fails.
    public func submit<each A: TaskArgument, each Parameter: TaskValue, Result: TaskValue>(
        _ function: TaskFunction<repeat each Parameter, Result>,
        _ arguments: repeat each A,
        key: TaskKey? = nil,
        pure: Bool = true,
        workers: [String] = [],
        retries: Int = 0
    ) throws -> Future<Result> where repeat (each A).Value == each Parameter {
        let delayed = function.delayed(repeat each arguments, key: key, pure: pure)
        return try submit(delayed, workers: workers, retries: retries)
    }

    /// Runs `function` on each item (`Client.map`): one task, and one future, per item.
    public func map<A: TaskArgument, Result: TaskValue>(
        _ function: TaskFunction<A.Value, Result>,
        _ items: [A],
        pure: Bool = true,
        workers: [String] = [],
        retries: Int = 0
    ) throws -> [Future<Result>] {
        try items.map { try submit(function, $0, pure: pure, workers: workers, retries: retries) }
    }

    /// Computes a lazy value on the cluster and returns a future of it.
    public func submit<Value: TaskValue>(_ delayed: Delayed<Value>, workers: [String] = [], retries: Int = 0) throws
        -> Future<Value>
    {
        let nodes = DelayedNode.dependenciesFirst([delayed.node])
        if let invalid = nodes.first(where: { $0.invalidReason != nil }) {
            throw ClientError(message: "Task '\(invalid.spec.key)' cannot run: \(invalid.invalidReason!)")
        }
        let submit = Drover_V1_SubmitGraph.with { graph in
            graph.tasks = nodes.map { node in
                .with {
                    $0.spec = node.spec.proto
                    if node === delayed.node {
                        $0.allowedWorkers = workers
                        $0.retries = Int32(retries)
                    }
                }
            }
            graph.wants = [delayed.key.rawValue]
        }
        let future = Future<Value>(key: delayed.key, client: self)
        outgoing.yield(.with { $0.events = [.with { $0.submit = submit }] })
        return future
    }

    /// The results of `futures`, in order, fetched from the workers with one request per worker.
    ///
    /// A worker that dies before its data is fetched costs a retry: the scheduler recomputes what
    /// it held and says where the new copy is.
    public func gather<Value: TaskValue>(_ futures: [Future<Value>]) async throws -> [Value] {
        var payloads: [TaskKey: Payload] = [:]
        var attempts = 0
        while true {
            var byWorker: [String: [TaskKey]] = [:]
            for future in futures where payloads[future.key] == nil {
                switch try await wait(for: future.key) {
                case .inMemory(let holders):
                    guard let first = holders.first else {
                        throw ClientError(message: "The scheduler says '\(future.key)' is in memory, but on no worker.")
                    }
                    byWorker[first, default: []].append(future.key)
                case .erred(let error):
                    throw error
                }
            }
            if byWorker.isEmpty { break }
            for (worker, keys) in byWorker {
                do {
                    payloads.merge(try await fetch(keys, from: worker)) { first, _ in first }
                } catch {
                    attempts += 1
                    guard attempts <= Self.gatherAttempts else { throw error }
                    logger.debug("gather failed; waiting for new copies", metadata: ["peer.address": "\(worker)"])
                    forgetLocations(of: keys, on: worker)
                }
            }
            for (worker, keys) in byWorker {
                if let missing = keys.first(where: { payloads[$0] == nil }), isKnown(missing, on: worker) {
                    throw ClientError(message: "The worker at \(worker) no longer holds '\(missing)'.")
                }
            }
        }
        return try futures.map { try Value.decode(payload: payloads[$0.key]!) }
    }

    /// Whether the client still believes `key` is on `worker` (false once it was told otherwise).
    private func isKnown(_ key: TaskKey, on worker: String) -> Bool {
        state.withLock { state in
            if case .inMemory(let holders) = state.keys[key] { return holders.contains(worker) }
            return false
        }
    }

    /// How many failed fetches a gather survives.
    static let gatherAttempts = 8

    /// Forgets that `keys` are on `worker` (any worker when nil), so the next wait takes the
    /// scheduler's next word on them.
    private func forgetLocations(of keys: [TaskKey], on worker: String?) {
        state.withLock { state in
            for key in keys {
                guard case .inMemory(let holders) = state.keys[key] else { continue }
                if worker == nil || holders.contains(worker!) { state.keys[key] = nil }
            }
        }
    }

    // MARK: - Futures

    func retain(_ key: TaskKey) {
        state.withLock { $0.references[key, default: 0] += 1 }
    }

    func release(_ key: TaskKey) {
        let isLast = state.withLock { state -> Bool in
            state.references[key, default: 1] -= 1
            guard state.references[key]! <= 0 else { return false }
            state.references[key] = nil
            state.keys[key] = nil
            return true
        }
        if isLast {
            outgoing.yield(.with { $0.events = [.with { $0.release = .with { $0.keys = [key.rawValue] } }] })
        }
    }

    /// Whether the scheduler has reported on `key`.
    func isDone(_ key: TaskKey) -> Bool {
        state.withLock { $0.keys[key] != nil }
    }

    func wait(for key: TaskKey) async throws -> KeyState {
        try await withCheckedThrowingContinuation { continuation in
            let ready: Result<KeyState, any Error>? = state.withLock { state in
                if let known = state.keys[key] { return .success(known) }
                if let reason = state.closedReason {
                    return .failure(ClientError(message: "The client is closed: \(reason)."))
                }
                state.waiters[key, default: []].append(continuation)
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        }
    }

    func fetch(_ keys: [TaskKey], from worker: String) async throws -> [TaskKey: Payload] {
        try await DataFetch.fetch(keys, from: worker)
    }

    // MARK: - Updates from the scheduler

    private func received(_ updates: [Drover_V1_ClientUpdate]) {
        var resumed: [(CheckedContinuation<KeyState, any Error>, KeyState)] = []
        state.withLock { state in
            for update in updates {
                let key: TaskKey
                let keyState: KeyState?
                switch update.kind {
                case .inMemory(let memory):
                    key = TaskKey(memory.key)
                    keyState = .inMemory(holders: memory.holders)
                case .erred(let erred):
                    key = TaskKey(erred.key.isEmpty ? erred.error.key : erred.key)
                    keyState = .erred(TaskError(proto: erred.error))
                case .lost(let lost):
                    key = TaskKey(lost.key)
                    keyState = nil
                case nil:
                    continue
                }
                guard state.references[key] != nil else { continue }  // released meanwhile
                state.keys[key] = keyState
                if let keyState {
                    for waiter in state.waiters.removeValue(forKey: key) ?? [] { resumed.append((waiter, keyState)) }
                }
            }
        }
        for (waiter, keyState) in resumed { waiter.resume(returning: keyState) }
    }

    private func closed(reason: String) {
        let waiters = state.withLock { state in
            state.closedReason = reason
            defer { state.waiters = [:] }
            return state.waiters.values.flatMap { $0 }
        }
        for waiter in waiters { waiter.resume(throwing: ClientError(message: "The client is closed: \(reason).")) }
    }
}

/// Lets the connection task reach the client without keeping it alive.
private final class WeakClient: @unchecked Sendable {
    // @unchecked: written once, before the connection task first reads it, then only read.
    weak var client: Client?
}

/// A failure of the client itself (not of a task).
public struct ClientError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }

    public init(message: String) {
        self.message = message
    }
}
