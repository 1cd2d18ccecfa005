public import DroverCore
import DroverProto
import SwiftProtobuf
import Synchronization

/// Where a future stands, like `dask.distributed.Future.status`.
public enum FutureStatus: String, Sendable, Hashable {
    /// Not finished yet (waiting, queued or running).
    case pending
    /// The result is on a worker.
    case finished
    /// The task, or one it depends on, failed.
    case error
    /// This client cancelled it.
    case cancelled
    /// Every copy of the result was lost with its workers; the cluster is computing it again.
    case lost
}

/// The error of a future that was cancelled.
public struct CancelledError: Error, Sendable, CustomStringConvertible {
    public var key: TaskKey
    public var description: String { "'\(key)' was cancelled." }
}

/// A wait that did not end in time.
public struct TimeoutError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

extension Client {
    // MARK: - Waiting

    /// Which futures end a ``wait(_:timeout:returnWhen:)``.
    public enum ReturnWhen: Sendable {
        case allCompleted
        case firstCompleted
    }

    /// Waits until the futures are done (finished, failed or cancelled), like
    /// `distributed.wait`; a failure is not thrown here but shows in each future's status.
    ///
    /// - Returns: The futures that are done and those that are not, in the given order.
    /// - Throws: ``TimeoutError`` when `timeout` passes first; ``ClientError`` when the connection is gone.
    @discardableResult
    public func wait<Value: TaskValue>(
        _ futures: [Future<Value>], timeout: Duration? = nil, returnWhen: ReturnWhen = .allCompleted
    ) async throws -> (done: [Future<Value>], notDone: [Future<Value>]) {
        let keys = Set(futures.map(\.key))
        let needed = returnWhen == .allCompleted ? keys.count : min(1, keys.count)
        let completions = self.completions(of: keys)
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                var completed = 0
                for await _ in completions {
                    completed += 1
                    if completed >= needed { return true }
                }
                if completed >= needed { return true }
                throw ClientError(message: "The client closed while waiting for \(needed - completed) futures.")
            }
            if let timeout {
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return false
                }
            }
            if let finished = try await group.next(), !finished {
                throw TimeoutError(description: "futures not done after \(timeout!)")
            }
            group.cancelAll()
        }
        var done: [Future<Value>] = []
        var notDone: [Future<Value>] = []
        for future in futures {
            if future.status == .pending || future.status == .lost {
                notDone.append(future)
            } else {
                done.append(future)
            }
        }
        return (done, notDone)
    }

    /// The futures in the order they complete, like `distributed.as_completed`.
    ///
    /// A future that fails or is cancelled comes out too; its `result()` then throws.
    public func asCompleted<Value: TaskValue>(_ futures: [Future<Value>]) -> AsyncStream<Future<Value>> {
        let byKey = Dictionary(grouping: futures, by: \.key)
        let completions = self.completions(of: Set(byKey.keys))
        let (stream, continuation) = AsyncStream.makeStream(of: Future<Value>.self)
        let forwarder = Task {
            for await key in completions {
                for future in byKey[key] ?? [] { continuation.yield(future) }
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in forwarder.cancel() }
        return stream
    }

    /// Waits until at least `count` workers are connected, like `Client.wait_for_workers`.
    public func waitForWorkers(_ count: Int) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let outcome: Result<Void, any Error>? = state.withLock { state in
                if state.workers.count >= count { return .success(()) }
                if let reason = state.closedReason {
                    return .failure(ClientError(message: "The client is closed: \(reason)."))
                }
                state.workerWaiters.append((count, continuation))
                return nil
            }
            if let outcome { continuation.resume(with: outcome) }
        }
    }

    /// The addresses of the workers connected, as the scheduler last said.
    public var workerAddresses: [String] {
        state.withLock { $0.workers }
    }

    // MARK: - Cancelling

    /// Cancels the futures' tasks, like `Client.cancel`: the cluster stops or drops them (unless
    /// another client wants them), and their `result()` throws ``CancelledError``.
    public func cancel<Value: TaskValue>(_ futures: [Future<Value>]) {
        var cancelled: [TaskKey] = []
        var waiters: [(CheckedContinuation<KeyState, any Error>)] = []
        var watchers: [(AsyncStream<TaskKey>.Continuation, isLast: Bool, key: TaskKey)] = []
        state.withLock { state in
            for key in Set(futures.map(\.key)) {
                guard let completion = state.keys.cancel(key) else { continue }  // no future of it left
                waiters += completion.waiters
                watchers += state.keyCompleted(watchers: completion.watchers).map { ($0.0, $0.isLast, key) }
                cancelled.append(key)
            }
        }
        for waiter in waiters { waiter.resume(returning: .cancelled) }
        for (watcher, isLast, key) in watchers {
            watcher.yield(key)
            if isLast { watcher.finish() }
        }
        if !cancelled.isEmpty { send(.with { $0.release = .with { $0.keys = cancelled.map(\.rawValue) } }) }
    }

    // MARK: - Scattering

    /// Puts each value on a worker and returns a future to each, like `Client.scatter` of a list:
    /// tasks that take these futures find the data there instead of carrying it in their arguments.
    ///
    /// - Parameter workers: The worker addresses to spread them over (round robin); by default
    ///   every worker connected.
    /// - Throws: ``ClientError`` when no worker is connected; the transfer's error.
    public func scatter<Value: TaskValue>(each values: [Value], workers: [String]? = nil) async throws
        -> [Future<Value>]
    {
        let targets = workers ?? workerAddresses
        guard !targets.isEmpty else {
            throw ClientError(message: "Cannot scatter: no worker is connected to the scheduler at \(scheduler).")
        }
        let keyed = try values.map { value in
            (TaskKey(function: "scatter-" + Value.taskTypeName, token: Token.random()), try value.encodePayload())
        }
        var byWorker: [String: [(TaskKey, Payload)]] = [:]
        for (index, item) in keyed.enumerated() { byWorker[targets[index % targets.count], default: []].append(item) }
        // Futures first, so the keys are held from the moment the scheduler hears of them.
        let futures = keyed.map { Future<Value>(key: $0.0, client: self) }
        let peers = self.peers
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (worker, items) in byWorker {
                group.addTask { _ = try await DataFetch.put(items, to: worker, connections: peers) }
            }
            try await group.waitForAll()
        }
        let scattered = byWorker.flatMap { worker, items in
            items.map { key, payload in
                Drover_V1_ScatteredKey.with {
                    $0.key = key.rawValue
                    $0.nbytes = Int64(payload.data.count)
                    $0.workerAddress = worker
                }
            }
        }
        send(.with { $0.scattered = .with { $0.keys = scattered } })
        return futures
    }

    /// Puts one value (an array is one value too) on a worker; see ``scatter(each:workers:)``.
    public func scatter<Value: TaskValue>(_ value: Value, workers: [String]? = nil) async throws -> Future<Value> {
        try await scatter(each: [value], workers: workers)[0]
    }
}

extension Client: RemoteScheduler {
    /// Computes lazy values on the cluster for `Delayed.compute()` when this client is the default.
    public func compute(_ roots: [DelayedNode]) async throws -> [ArgumentValue] {
        let keys = try submit(nodes: roots)
        defer { for key in keys { release(key) } }
        return try await gatherPayloads(keys).map { .payload($0) }
    }
}
