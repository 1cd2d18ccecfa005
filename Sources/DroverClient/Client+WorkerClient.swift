public import DroverCore
import DroverProto

// MARK: - Tasks that submit tasks (Dask's get_client and worker_client)

extension Client: TaskWorkerResource {}

extension Client {
    /// The client of the worker running the current task (Dask's `get_client()` inside a task):
    /// connected to the worker's scheduler with the worker's TLS settings, made on first use and
    /// shared by every task of that worker, closed when the worker stops. Do not close it yourself.
    ///
    /// A task that waits on the futures it submits should not hold its thread slot meanwhile: wait
    /// inside ``withWorkerClient(_:)``, or call ``WorkerContext/secede()`` and
    /// ``WorkerContext/rejoin()`` around the wait. Futures it submits live while the task holds
    /// them, like any client's: they are released when the task drops them (when it returns, at
    /// the latest). Results travel back as values, not as futures.
    ///
    /// - Throws: ``ClientError`` outside a task running on a cluster worker, or when the client
    ///   cannot connect; `WorkerContextError` once the worker is stopping.
    public static func forCurrentTask() async throws -> Client {
        guard let context = WorkerContext.current else {
            throw ClientError(
                message: "Client.forCurrentTask() was called outside a task running on a cluster worker "
                    + "(WorkerContext.current is nil): only a worker's task bodies have one.")
        }
        let worker = context.worker
        let resource = try await worker.sharedResource {
            let security = worker.security as? Security ?? .insecurePlaintext
            return try await Client.connect(worker.schedulerAddress, security: security, setAsDefault: false)
        }
        guard let client = resource as? Client else {
            throw ClientError(message: "Worker \(worker.id) keeps a \(type(of: resource)) for its tasks, not a Client.")
        }
        return client
    }

    /// Runs `body` with the worker's client while the current task does not hold a thread slot
    /// (Dask's `with worker_client() as client:`): the task secedes first, so the worker may run
    /// the tasks `body` submits and waits on, even with one thread, and rejoins (waits for a free
    /// slot) before returning, whether `body` returned or threw.
    ///
    /// ```swift
    /// let fanOut = TaskFunction("fan-out") { (n: Int) async throws -> Int in
    ///     try await Client.withWorkerClient { client in
    ///         try await client.gather(try client.map(inc, Array(0..<n))).reduce(0, +)
    ///     }
    /// }
    /// ```
    ///
    /// - Returns: What `body` returns.
    /// - Throws: What ``forCurrentTask()`` or `body` throws.
    public static func withWorkerClient<Result: Sendable>(
        _ body: (Client) async throws -> Result
    ) async throws -> Result {
        let client = try await forCurrentTask()
        let context = WorkerContext.current!  // forCurrentTask() returned: there is one
        await context.secede()
        let result: Swift.Result<Result, any Error>
        do {
            result = .success(try await body(client))
        } catch {
            result = .failure(error)
        }
        await context.rejoin()
        return try result.get()
    }
}
