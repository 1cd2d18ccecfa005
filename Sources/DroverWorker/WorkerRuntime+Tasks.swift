import DroverCore
import DroverLocal
import DroverProto
import Foundation
import Logging
import Synchronization

extension WorkerRuntime {
    // MARK: - Running tasks

    func execute(_ key: TaskKey) {
        logger.trace("execute", metadata: ["task.key": "\(key)"])
        guard let spec = state.records[key]?.spec else { return }
        let location = address
        guard let function = registry[spec.function] else {
            let error = TaskError.unknownFunction(
                spec.function, key: key, known: registry.names, location: "worker \(location)")
            handle([.executionFailed(key, error)])
            return
        }
        let arguments: [ArgumentValue]
        do {
            arguments = try spec.arguments.map(resolve)
        } catch {
            let failure = TaskError(
                kind: .failed, key: key, function: spec.function, message: error.message, location: "worker \(location)"
            )
            handle([.executionFailed(key, failure)])
            return
        }
        // Inputs read back from disk may have pushed the results in memory past the target.
        spillForManagedBytes()
        started.append(key)
        let context = WorkerContext(key: key, worker: taskWorker())
        let sharedMemoryMinBytes = store.segmentServer == nil ? nil : options.sharedMemoryMinBytes
        // Straight onto the task threads (one hop); ``bodiesFinished()`` waits for the stragglers
        // when the worker stops.
        bodiesRunning += 1
        Task(executorPreference: pool) { [logger] in
            let start = ContinuousClock.now
            let encoded = await WorkerContext.$current.withValue(context) {
                await function.runEncoded(key: key, arguments: arguments, location: "worker \(location)")
            }
            // On the task's thread, not the actor's: a large result's copy into shared memory.
            var segment: SharedSegment?
            if let minimum = sharedMemoryMinBytes, case .success(let payload) = encoded,
                payload.data.count >= minimum
            {
                do {
                    segment = try SharedSegment.make(copying: payload.data, name: "drover:\(key)")
                } catch {
                    logger.debug(
                        "result kept in private memory",
                        metadata: ["task.key": "\(key)", "error": "\(error)"])
                }
            }
            let shared = segment.flatMap { segment in
                (try? segment.map()).map { (segment, $0) }
            }
            await self.executed(key, encoded, shared: shared, seconds: (ContinuousClock.now - start).inSeconds)
        }
    }

    /// Returns once every task body started has finished.
    func bodiesFinished() async {
        guard bodiesRunning > 0 else { return }
        await withCheckedContinuation { bodiesDone.append($0) }
    }

    private func resolve(_ argument: ArgumentSpec) throws(TaskError) -> ArgumentValue {
        switch argument {
        case .value(let payload):
            return .payload(payload)
        case .key(let key):
            do {
                return try store.load(key).map { .payload($0) } ?? .list([])
            } catch {
                logger.error(
                    "could not read a spilled result back",
                    metadata: ["task.key": "\(key)", "error": "\(error)", "spill.directory": "\(store.directoryPath)"])
                throw TaskError(
                    kind: .failed, key: key, function: "",
                    message: "The input '\(key)' was spilled to disk and could not be read back: \(error)")
            }
        case .list(let items):
            return .list(try items.map(resolve))
        }
    }

    private func executed(
        _ key: TaskKey, _ outcome: Result<Payload, TaskError>, shared: (SharedSegment, Data)?, seconds: Double
    ) {
        bodiesRunning -= 1
        if bodiesRunning == 0 {
            for waiter in bodiesDone { waiter.resume() }
            bodiesDone = []
        }
        switch outcome {
        case .success(var payload):
            if let (segment, data) = shared {
                // The bytes now live in the segment: drop the private copy.
                payload.data = data
                store.put(key, payload, segment: segment)
            } else {
                store.put(key, payload)
            }
            handle([.executionFinished(key, nbytes: Int64(payload.data.count), duration: seconds)])
            spillForManagedBytes()
        case .failure(let error):
            handle([.executionFailed(key, error)])
        }
    }

    // MARK: - Data transfer

    /// A result this worker holds, for `GetData` and inline reports; a spilled one is read from
    /// disk and stays there.
    func payload(for key: TaskKey) -> Payload? {
        do {
            return try store.peek(key)
        } catch {
            logger.error(
                "could not read a spilled result back",
                metadata: ["task.key": "\(key)", "error": "\(error)", "spill.directory": "\(store.directoryPath)"])
            return nil
        }
    }

    /// A result for a peer or client (`GetData`), counted as served; with the segment peers ask for
    /// it by when the asker's `sharedMemoryHost` is this worker's and the value is in a segment.
    func payloadToServe(for key: TaskKey, sharedMemoryHost: String = "") -> (Payload, shared: SharedReference?)? {
        guard let payload = payload(for: key) else { return nil }
        outgoingTransferBytes += Int64(payload.data.count)
        if !sharedMemoryHost.isEmpty, sharedMemoryHost == SharedMemoryHost.current,
            let server = store.segmentServer, let number = store.segmentNumber(of: key)
        {
            return (payload, SharedReference(socket: server.name, segment: number))
        }
        return (payload, nil)
    }

    /// Serves one bulk stream: the values it asks for, as `GetData` would (the bytes counted when
    /// `GetData` offered them).
    nonisolated func serveBulk(_ connection: BulkConnection) async {
        await connection.serve(logger: logger) { key in await self.bulkSource(for: key) }
    }

    /// `key`'s value for a bulk stream, with its memfd segment when it has one (sent from there
    /// with `sendfile` over plaintext); the descriptor is duplicated here, while the store holds it.
    func bulkSource(for key: TaskKey) -> BulkConnection.Source? {
        guard let payload = payload(for: key) else { return nil }
        guard let number = store.segmentNumber(of: key), let segment = store.segmentServer?.segment(number),
            segment.length == payload.data.count
        else { return BulkConnection.Source(payload: payload) }
        do {
            return BulkConnection.Source(
                payload: payload, file: try BulkConnection.File(duplicating: segment.descriptor, length: segment.length)
            )
        } catch {
            logger.debug("sending a value by copy", metadata: ["task.key": "\(key)", "error": "\(error)"])
            return BulkConnection.Source(payload: payload)
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
        keys.filter { store.contains($0) }.sorted { $0.rawValue < $1.rawValue }
    }

    func received(_ values: [TaskKey: Payload]) {
        for (key, payload) in values { store.put(key, payload) }
        handle([.dataReceived(values.mapValues { Int64($0.data.count) })])
        spillForManagedBytes()
    }

    func fetched(
        _ outcome: Result<Fetched, any Error>, keys: [TaskKey], from peer: String, seconds: Double
    ) {
        logger.trace("fetch ended", metadata: ["peer.address": "\(peer)", "task.key": "\(keys[0])"])
        switch outcome {
        case .success(let fetched):
            let values = fetched.values
            var sizes: [TaskKey: Int64] = [:]
            for (key, payload) in values {
                if fetched.mapped.contains(key) {
                    store.putBorrowed(key, payload)
                } else {
                    store.put(key, payload)
                }
                sizes[key] = Int64(payload.data.count)
            }
            incomingTransfers += 1
            incomingTransferBytes += sizes.values.reduce(0, +)
            incomingTransferSeconds += seconds
            let missing = keys.filter { values[$0] == nil }
            var events: [WorkerState.Event] = [.fetchFinished(sizes, from: peer)]
            if !missing.isEmpty { events.append(.fetchFailed(missing, from: peer)) }
            handle(events)
            spillForManagedBytes()
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
