/// The cluster worker running the current task, as its body sees it: Dask's `get_worker()`,
/// `secede()` and `rejoin()`.
///
/// A worker sets ``current`` around every task body it runs; anywhere else (the threads or
/// processes scheduler, the program's own code) it is `nil`. Child tasks of the body see it too,
/// as with any task-local value. `DroverClient` builds on it: `Client.forCurrentTask()` is the
/// worker's client and `Client.withWorkerClient { … }` secedes around a block that submits tasks.
///
/// ```swift
/// let whereAmI = TaskFunction("where-am-i") { (_: Int) -> String in
///     WorkerContext.current?.address ?? "not on a cluster worker"
/// }
/// ```
public struct WorkerContext: Sendable {
    /// The worker running the current task; `nil` outside a cluster worker's task.
    @TaskLocal public static var current: WorkerContext?

    /// The key of the task being run.
    public let key: TaskKey
    /// The worker running it.
    public let worker: any TaskWorker

    /// Creates a context; a worker makes one for each task it runs.
    public init(key: TaskKey, worker: any TaskWorker) {
        self.key = key
        self.worker = worker
    }

    /// The worker's id at the scheduler (its `--name`, or else its address).
    public var id: String { worker.id }
    /// The worker's name: its `--name`, or else its address (Dask's `worker.name`).
    public var name: String { worker.name }
    /// The address peers and clients fetch its results from, `host:port`.
    public var address: String { worker.address }

    /// Gives up the task's thread slot while it waits on other tasks (Dask's `secede()`): the
    /// worker starts another task in its place, and the scheduler stops counting this one against
    /// the worker's threads. Does nothing if the task has seceded already.
    public func secede() async {
        await worker.secede(key)
    }

    /// Waits for a free thread slot and takes it (Dask's `rejoin()`), so that the task runs on
    /// within the worker's `nthreads` again. Returns at once if the task has not seceded.
    public func rejoin() async {
        await worker.rejoin(key)
    }
}

/// What a cluster worker offers the task bodies it runs (see ``WorkerContext``).
///
/// `DroverWorker` implements it; it lives here so that a task body, which imports only
/// `DroverCore` and `DroverClient`, can reach its worker without a dependency on the worker.
public protocol TaskWorker: Sendable {
    /// The worker's id at the scheduler (its `--name`, or else its address).
    var id: String { get }
    /// The worker's name: its `--name`, or else its address.
    var name: String { get }
    /// Where peers and clients fetch its results from, `host:port`.
    var address: String { get }
    /// The scheduler it is connected to, `host:port`.
    var schedulerAddress: String { get }
    /// The worker's TLS settings (a `DroverProto.Security`), which a client made for its tasks
    /// connects with. Typed loosely so that `DroverCore` does not depend on `DroverProto`.
    var security: any Sendable { get }

    /// The task `key` leaves its thread slot (see ``WorkerContext/secede()``).
    func secede(_ key: TaskKey) async
    /// The task `key` waits for a thread slot (see ``WorkerContext/rejoin()``).
    func rejoin(_ key: TaskKey) async
    /// The one resource (a client) the worker keeps for its tasks: made by `make` on first use,
    /// shared by every task after, and closed when the worker stops.
    ///
    /// - Throws: What `make` throws, or ``WorkerContextError`` once the worker is stopping.
    func sharedResource(
        orMake make: @escaping @Sendable () async throws -> any TaskWorkerResource
    ) async throws -> any TaskWorkerResource
}

/// Something a worker keeps for its tasks and closes when it stops (the task client).
public protocol TaskWorkerResource: Sendable {
    /// Releases the resource; the worker calls it once, when it stops.
    func close() async
}

/// A task asked for its worker's facilities where there are none.
public struct WorkerContextError: Error, Sendable, CustomStringConvertible {
    /// The broken rule, as a sentence.
    public let message: String

    /// Creates an error with its sentence.
    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
