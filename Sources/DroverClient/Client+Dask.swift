public import DroverCore
import DroverProto
import Foundation
import SwiftProtobuf
import Synchronization

// The parts of `dask.distributed.Client` a Dask user reaches for, on top of submit and gather.

extension Client {
    // MARK: - compute and persist

    /// Starts computing `delayed` on the cluster and returns its future at once, like Dask's
    /// `client.compute(x)` (`x.compute()` waits for the value instead).
    public func compute<Value: TaskValue>(_ delayed: Delayed<Value>) throws -> Future<Value> {
        try submit(delayed)
    }

    /// Starts computing `values` on the cluster in one submission, one future each.
    public func compute<Value: TaskValue>(_ values: [Delayed<Value>]) throws -> [Future<Value>] {
        try submit(values)
    }

    /// Starts computing `values` on the cluster and keeps their results there, like Dask's
    /// `client.persist(x)`: the futures hold the results on the workers, and a graph built on them
    /// (a future goes wherever a lazy value does: `sum.delayed(persisted)`) starts from them
    /// instead of computing them again.
    ///
    /// Dask's `persist` returns the same collection type with futures inside; a `Delayed` here is a
    /// call to compute, so the futures themselves are what is returned.
    public func persist<Value: TaskValue>(_ values: [Delayed<Value>]) throws -> [Future<Value>] {
        try submit(values)
    }

    /// Persists one lazy value; see ``persist(_:)-([Delayed<Value>])``.
    public func persist<Value: TaskValue>(_ delayed: Delayed<Value>) throws -> Future<Value> {
        try submit(delayed)
    }

    // MARK: - Where results are

    /// The workers holding each future's result, as this client last heard from the scheduler
    /// (Dask's `client.who_has`); a future not finished holds none.
    public func whoHas<Value: TaskValue>(_ futures: [Future<Value>]) -> [TaskKey: [String]] {
        state.withLock { state in
            var holders: [TaskKey: [String]] = [:]
            for future in futures {
                if case .inMemory(let workers, _) = state.keys.known(future.key) {
                    holders[future.key] = workers
                } else {
                    holders[future.key] = []
                }
            }
            return holders
        }
    }

    /// The keys of this client's results that each worker holds (Dask's `client.has_what`, limited
    /// to the keys this client holds futures of).
    public func hasWhat() -> [String: [TaskKey]] {
        state.withLock { state in
            var held: [String: [TaskKey]] = [:]
            for worker in state.workers { held[worker] = [] }
            for (key, entry) in state.keys.entries {
                guard entry.references > 0, case .inMemory(let workers, _) = entry.known else { continue }
                for worker in workers { held[worker, default: []].append(key) }
            }
            return held.mapValues { $0.sorted { $0.rawValue < $1.rawValue } }
        }
    }

    /// The workers connected, as the scheduler last said.
    public var workers: [String] { state.withLock { $0.workers } }

    // MARK: - Running on every worker

    /// Runs `function` once on every connected worker and returns each worker's result, like
    /// Dask's `client.run`. Each call is a task restricted to its worker (`workers:`), never merged
    /// with another (`pure: false`), so it waits for a free thread there.
    ///
    /// - Returns: The results by worker, as ``workers`` names them.
    public func run<each A: TaskArgument, each Parameter: TaskValue, Result: TaskValue>(
        _ function: TaskFunction<repeat each Parameter, Result>,
        _ arguments: repeat each A
    ) async throws -> [String: Result] where repeat (each A).Value == each Parameter {
        var futures: [(worker: String, future: Future<Result>)] = []
        for worker in workers {
            futures.append((worker, try submit(function, repeat each arguments, pure: false, workers: [worker])))
        }
        // Closures, not key paths: a key path into a tuple crashed at run time in this
        // parameter-pack generic function (Swift 6.3).
        let values = try await gather(futures.map { $0.future })
        return Dictionary(uniqueKeysWithValues: zip(futures.map { $0.worker }, values))
    }

    // MARK: - Fire and forget

    /// Lets the tasks of `futures` run to completion even when every future of theirs is dropped,
    /// like Dask's `fire_and_forget`: this client keeps a reference until each is done (finished,
    /// failed or cancelled), then lets the cluster free it.
    ///
    /// Unlike Dask, where the scheduler keeps the task, the reference lives in this client: a task
    /// still running when the client closes is released with its other keys.
    public func fireAndForget<Value: TaskValue>(_ futures: [Future<Value>]) {
        for future in futures {
            Task { [self] in
                _ = try? await self.wait([future])
            }
        }
    }

    /// Lets one task run to completion without its future; see ``fireAndForget(_:)-([Future<Value>])``.
    public func fireAndForget<Value: TaskValue>(_ future: Future<Value>) {
        fireAndForget([future])
    }
}

extension Client: CustomStringConvertible {
    /// Like Dask's `<Client: 'tcp://127.0.0.1:8786' processes=4 threads=8>`: the scheduler and the
    /// workers this client last heard of.
    public var description: String {
        let (workers, closed) = state.withLock { ($0.workers.count, $0.closedReason != nil) }
        let owned = cluster == nil ? "" : ", local cluster"
        return "<Client: '\(scheduler)' workers=\(workers)\(closed ? ", closed" : "")\(owned)>"
    }
}

extension Client {
    // MARK: - Progress of lazy values

    /// Computes `values` on the cluster while drawing a progress bar per function over every task
    /// of their graphs, like Dask's `progress(x.persist())`, and returns their futures once every
    /// task is done.
    ///
    /// Unlike ``progress(_:output:interval:)`` over futures, the bars count the tasks the values
    /// depend on too (the client holds each of them until the bars are done, then lets the
    /// cluster free what only they needed).
    ///
    /// - Returns: The values' futures, as ``persist(_:)-([Delayed<Value>])`` returns them.
    /// - Throws: ``ClientError`` as `submit` does, or when the client closes first.
    @discardableResult
    public func progress<Value: TaskValue>(
        _ values: [Delayed<Value>], output: ProgressOutput = .standardOutput, interval: Duration = .milliseconds(100)
    ) async throws -> [Future<Value>] {
        let nodes = DelayedNode.dependenciesFirst(values.map { $0.node })
        // Every task is a root, so the client hears of each; each key is held by a bare retain.
        let keys = try submit(nodes: nodes)
        defer { for key in keys { release(key) } }
        let futures = values.map { Future<Value>(key: $0.key, client: self) }
        try await progress(of: keys, output: output, interval: interval)
        return futures
    }

    /// Computes one lazy value with progress bars; see ``progress(_:output:interval:)-([Delayed<Value>],_,_)``.
    @discardableResult
    public func progress<Value: TaskValue>(
        _ value: Delayed<Value>, output: ProgressOutput = .standardOutput, interval: Duration = .milliseconds(100)
    ) async throws -> Future<Value> {
        try await progress([value], output: output, interval: interval)[0]
    }
}

extension Client {
    // MARK: - Restart

    /// Restarts every worker, like Dask's `client.restart()`: each future of every client errs
    /// (``TaskError/Kind/workerDied``, saying the cluster was restarted), the scheduler forgets every
    /// task, and each worker's nanny kills it and starts a fresh one. Workers without a nanny keep
    /// running, with nothing on them.
    ///
    /// Returns once the scheduler has handled the request, so every future of this client has
    /// erred; the fresh workers register shortly after (``waitForWorkers(_:)``).
    ///
    /// - Throws: ``ClientError`` when the connection is gone.
    public func restart() async throws {
        // The scheduler answers in order, and a wanted key it does not know is answered at once
        // (KIND_REJECTED): that answer marks that the restart before it has been handled.
        let barrier = TaskKey("restart-barrier-" + Token.random().prefix(12))
        retain(barrier)
        defer { release(barrier) }
        send(.with { $0.restart = Drover_V1_RestartWorkers() })
        send(.with { $0.submit = .with { $0.wants = [barrier.rawValue] } })
        _ = try await wait(for: barrier)
    }
}

extension Client {
    // MARK: - Shutdown

    /// Stops the cluster, like Dask's `client.shutdown()`: the scheduler asks each nanny to stop
    /// (its workers retire, then it exits), closes each worker without a nanny, and stops itself;
    /// then this client closes (a ``Client/local(workers:threadsPerWorker:memoryLimit:insecurePlaintext:transport:)`` client
    /// also reaps its cluster's processes). Other clients of the cluster lose their connection.
    public func shutdown() async {
        send(.with { $0.shutdown = Drover_V1_ShutdownCluster() })
        await close()
    }
}
