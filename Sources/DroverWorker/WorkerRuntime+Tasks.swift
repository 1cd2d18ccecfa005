import DroverCore
import DroverLocal
import DroverProto
import Foundation
import Logging
import Synchronization

extension WorkerRuntime {
    // MARK: - Running tasks

    /// Starts `body` on the task threads (one hop); the thread goes on with whatever the state
    /// starts when it ends. ``bodiesFinished()`` waits for the stragglers when the worker stops.
    func start(_ body: TaskBody) {
        Task(executorPreference: pool) { await self.runBodies(from: body) }
    }

    /// Runs `first`, then, as long as finishing one body starts another, that one, on this thread:
    /// a busy worker's thread runs task after task with no hand-off. Further bodies started at the
    /// same time (more threads free) get threads of their own.
    private func runBodies(from first: TaskBody) async {
        var next: TaskBody? = first
        while let body = next {
            HopTrace.mark("worker.body.start")
            let outcome = await body.run(worker: taskWorker(address: body.address), logger: logger)
            HopTrace.mark("worker.body.end")
            var effects = core.withLock { $0.executed(outcome, in: environment) }
            next = effects.bodies.isEmpty ? nil : effects.bodies.removeFirst()
            carryOut(effects)
        }
    }

    /// Returns true once every task body started has finished, or false when some still run
    /// after `timeout` (a body that blocks forever must not keep the worker from stopping).
    func bodiesFinished(within timeout: Duration) async -> Bool {
        let waiter = BodiesWaiter()
        let timer = Task {
            try? await Task.sleep(for: timeout)
            waiter.finish(false)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            waiter.attach(continuation)
            let isIdle = core.withLock { core in
                guard core.bodiesRunning > 0 else { return true }
                core.bodiesDone.append(waiter)
                return false
            }
            if isIdle { waiter.finish(true) }
        }
    }

    // MARK: - Data transfer

    /// A result for a peer or client (`GetData`), counted as served; with the segment peers ask for
    /// it by when the asker's `sharedMemoryHost` is this worker's and the value is in a segment.
    func payloadToServe(for key: TaskKey, sharedMemoryHost: String = "") -> (Payload, shared: SharedReference?)? {
        core.withLock { core in
            guard let payload = core.payload(for: key, logger: logger) else { return nil }
            core.transfers.outgoingBytes += Int64(payload.data.count)
            if !sharedMemoryHost.isEmpty, sharedMemoryHost == SharedMemoryHost.current,
                let server = core.store.segmentServer, let number = core.store.segmentNumber(of: key)
            {
                return (payload, SharedReference(socket: server.name, segment: number))
            }
            return (payload, nil)
        }
    }

    /// Serves one bulk stream: the values it asks for, as `GetData` would (the bytes counted when
    /// `GetData` offered them).
    func serveBulk(_ connection: BulkConnection) async {
        await connection.serve(logger: logger) { key in self.bulkSource(for: key) }
    }

    /// `key`'s value for a bulk stream, with its memfd segment when it has one (sent from there
    /// with `sendfile` over plaintext); the descriptor is duplicated under the lock, while the
    /// store holds it.
    func bulkSource(for key: TaskKey) -> BulkConnection.Source? {
        core.withLock { core in
            guard let payload = core.payload(for: key, logger: logger) else { return nil }
            guard let number = core.store.segmentNumber(of: key),
                let segment = core.store.segmentServer?.segment(number), segment.length == payload.data.count
            else { return BulkConnection.Source(payload: payload) }
            do {
                return BulkConnection.Source(
                    payload: payload,
                    file: try BulkConnection.File(duplicating: segment.descriptor, length: segment.length))
            } catch {
                logger.debug("sending a value by copy", metadata: ["task.key": "\(key)", "error": "\(error)"])
                return BulkConnection.Source(payload: payload)
            }
        }
    }

    /// Where a peer of this host asks for a segment.
    struct SharedReference: Sendable {
        var socket: String
        var segment: UInt64
    }

    /// Values a client put here (scatter): kept as results the scheduler will track.
    /// The keys among `keys` this worker holds (in memory or spilled).
    func heldKeys(among keys: [TaskKey]) -> [TaskKey] {
        core.withLock { core in keys.filter { core.store.contains($0) } }.sorted { $0.rawValue < $1.rawValue }
    }

    func received(_ values: [TaskKey: Payload]) {
        carryOut(
            core.withLock { core in
                for (key, payload) in values { core.store.put(key, payload) }
                return core.handle([.dataReceived(values.mapValues { Int64($0.data.count) })], in: environment)
            })
    }

    /// Fetches `keys` from `peer` on Swift's pool, and hands the outcome to ``fetched(_:keys:from:seconds:)``.
    func startFetch(_ keys: [TaskKey], from peer: String) {
        let sharing = sharesMemory
        jobQueue.yield(
            Job { [logger] in
                let start = ContinuousClock.now
                let outcome = await Self.fetch(
                    keys, from: peer, connections: self.peers, sharing: sharing, logger: logger)
                let seconds = (ContinuousClock.now - start).inSeconds
                self.fetched(outcome, keys: keys, from: peer, seconds: seconds)
            }
        )
    }

    func fetched(
        _ outcome: Result<Fetched, any Error>, keys: [TaskKey], from peer: String, seconds: Double
    ) {
        logger.trace("fetch ended", metadata: ["peer.address": "\(peer)", "task.key": "\(keys[0])"])
        switch outcome {
        case .success(let fetched):
            let values = fetched.values
            let missing = keys.filter { values[$0] == nil }
            carryOut(
                core.withLock { core in
                    var sizes: [TaskKey: Int64] = [:]
                    for (key, payload) in values {
                        if fetched.mapped.contains(key) {
                            core.store.putBorrowed(key, payload)
                        } else {
                            core.store.put(key, payload)
                        }
                        sizes[key] = Int64(payload.data.count)
                    }
                    core.transfers.incoming += 1
                    core.transfers.incomingBytes += sizes.values.reduce(0, +)
                    core.transfers.incomingSeconds += seconds
                    var events: [WorkerState.Event] = [.fetchFinished(sizes, from: peer)]
                    if !missing.isEmpty { events.append(.fetchFailed(missing, from: peer)) }
                    return core.handle(events, in: environment)
                })
        case .failure(let error):
            logger.debug(
                "fetch failed",
                metadata: ["peer.address": "\(peer)", "error": "\(error)", "task.count": "\(keys.count)"])
            handle([.fetchFailed(keys, from: peer)])
        }
    }

    /// Values fetched from a peer, and which of them are mappings of its shared memory.
    struct Fetched: Sendable {
        var values: [TaskKey: Payload]
        var mapped: Set<TaskKey>
    }

    /// Fetches `keys` from the worker at `peer` with `GetData`; with `sharing`, large values of a
    /// peer on this host come as its shared memory, mapped read-only.
    static func fetch(
        _ keys: [TaskKey], from peer: String, connections: PeerConnections, sharing: Bool, logger: Logger
    ) async -> Result<Fetched, any Error> {
        let mapped = Mutex<Set<TaskKey>>([])
        let access = SharedMemoryAccess(host: SharedMemoryHost.current) { references in
            let values = await SegmentServer.map(references)
            mapped.withLock { $0.formUnion(values.keys) }
            if values.count < references.count {
                logger.debug(
                    "could not map a peer's shared memory; fetching the bytes",
                    metadata: ["peer.address": "\(peer)", "task.count": "\(references.count - values.count)"])
            }
            return values
        }
        do {
            let values = try await DataFetch.fetch(
                keys, from: peer, connections: connections,
                sharing: sharing && !SharedMemoryHost.current.isEmpty ? access : nil)
            return .success(Fetched(values: values, mapped: mapped.withLock { $0 }))
        } catch {
            logger.debug("fetch failed", metadata: ["peer.address": "\(peer)", "error": "\(error)"])
            return .failure(error)
        }
    }
}
