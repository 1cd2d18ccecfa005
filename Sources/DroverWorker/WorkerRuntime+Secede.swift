import DroverCore
import DroverProto
import Logging
import Synchronization

// MARK: - Tasks that submit tasks (Dask's get_worker, secede, rejoin)

extension WorkerRuntime {
    /// What a task body sees of this worker (``WorkerContext/current``), set around each body.
    func taskWorker(address: String) -> TaskWorkerHandle {
        TaskWorkerHandle(
            id: options.name ?? address, name: options.name ?? address, address: address,
            schedulerAddress: "\(options.scheduler)", security: options.security, runtime: self,
            resources: taskResources)
    }

    /// The task leaves its thread slot; another ready task may start.
    func secede(_ key: TaskKey) {
        logger.debug("task seceded", metadata: ["task.key": "\(key)"])
        handle([.seceded(key)])
    }

    /// Returns once the task holds a thread slot again (at once when it never left one).
    func rejoin(_ key: TaskKey) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            carryOut(
                core.withLock { core in
                    core.rejoinWaiters[key, default: []].append(continuation)
                    return core.handle([.rejoinRequested(key)], in: environment)
                })
        }
    }

    /// Every task waiting to rejoin runs on: the state that would give them slots is gone (a new
    /// scheduler connection, whose state knows none of them, or the worker stopping).
    func resumeAllRejoins() {
        for continuation in core.withLock({ $0.takeAllRejoinWaiters() }) { continuation.resume() }
    }
}

/// This worker as a task body sees it (``TaskWorker``): its names and addresses, its TLS settings,
/// secede and rejoin, and the client its tasks share.
///
/// A value made for each task, so that the runtime holds no reference to it (no cycle).
struct TaskWorkerHandle: TaskWorker {
    let id: String
    let name: String
    let address: String
    let schedulerAddress: String
    let security: any Sendable
    let runtime: WorkerRuntime
    let resources: SharedTaskResource

    func secede(_ key: TaskKey) async {
        runtime.secede(key)
    }

    func rejoin(_ key: TaskKey) async {
        await runtime.rejoin(key)
    }

    func sharedResource(
        orMake make: @escaping @Sendable () async throws -> any TaskWorkerResource
    ) async throws -> any TaskWorkerResource {
        try await resources.get(orMake: make)
    }
}

/// The one resource (the tasks' client) a worker keeps for its tasks, like Dask's
/// `Worker._client`: made once, shared, closed when the worker stops.
actor SharedTaskResource {
    private var making: Task<any TaskWorkerResource, any Error>?
    private var isClosed = false

    /// The resource, made by `make` if there is none yet (a failed attempt is forgotten, so the
    /// next caller tries again).
    ///
    /// - Throws: What `make` throws, or ``WorkerContextError`` once the worker is stopping.
    func get(orMake make: @escaping @Sendable () async throws -> any TaskWorkerResource) async throws
        -> any TaskWorkerResource
    {
        guard !isClosed else {
            throw WorkerContextError("The worker is stopping: its tasks can no longer get a client.")
        }
        let attempt: Task<any TaskWorkerResource, any Error>
        if let making {
            attempt = making
        } else {
            // Off the task threads: the client's connection must not wait behind a task body.
            attempt = Task(executorPreference: globalConcurrentExecutor) { try await make() }
            making = attempt
        }
        do {
            return try await attempt.value
        } catch {
            if making == attempt { making = nil }
            throw error
        }
    }

    /// Closes the resource, if one was made; later ``get(orMake:)`` calls throw.
    func close() async {
        isClosed = true
        guard let attempt = making else { return }
        making = nil
        if let resource = try? await attempt.value { await resource.close() }
    }
}
