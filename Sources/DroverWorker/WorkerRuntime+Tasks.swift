import DroverCore
import DroverLocal
import DroverProto
import Logging

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
        // Straight onto the task threads (one hop); ``bodiesFinished()`` waits for the stragglers
        // when the worker stops.
        bodiesRunning += 1
        Task(executorPreference: pool) {
            let start = ContinuousClock.now
            let encoded = await WorkerContext.$current.withValue(context) {
                await function.runEncoded(key: key, arguments: arguments, location: "worker \(location)")
            }
            await self.executed(key, encoded, seconds: (ContinuousClock.now - start).inSeconds)
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

    private func executed(_ key: TaskKey, _ outcome: Result<Payload, TaskError>, seconds: Double) {
        bodiesRunning -= 1
        if bodiesRunning == 0 {
            for waiter in bodiesDone { waiter.resume() }
            bodiesDone = []
        }
        switch outcome {
        case .success(let payload):
            store.put(key, payload)
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

    /// A result for a peer or client (`GetData`), counted as served.
    func payloadToServe(for key: TaskKey) -> Payload? {
        let payload = payload(for: key)
        outgoingTransferBytes += Int64(payload?.data.count ?? 0)
        return payload
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
        _ outcome: Result<[TaskKey: Payload], any Error>, keys: [TaskKey], from peer: String, seconds: Double
    ) {
        logger.trace("fetch ended", metadata: ["peer.address": "\(peer)", "task.key": "\(keys[0])"])
        switch outcome {
        case .success(let values):
            var sizes: [TaskKey: Int64] = [:]
            for (key, payload) in values {
                store.put(key, payload)
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
