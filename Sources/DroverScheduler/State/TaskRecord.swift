public import DroverCore

/// The scheduler's view of one task (Dask's `TaskState` on the scheduler).
public struct TaskRecord: Sendable {
    /// Dask's task states, as the scheduler sees them.
    ///
    /// `released` → `waiting` (inputs missing) → `queued` (a root task waiting for a free worker) or
    /// `noWorker` (no worker may run it) → `processing` → `memory`; or `erred`. A task nothing needs
    /// any more is `forgotten` and removed.
    public enum State: Sendable, Hashable {
        case released, waiting, queued, noWorker, processing, memory, erred
    }

    public let key: TaskKey
    public var spec: TaskSpec
    public internal(set) var state: State = .released
    /// Order among ready tasks: lower runs first (submission, then position in the client's plan).
    public internal(set) var priority: TaskPriority
    /// The tasks whose results this one takes as arguments.
    public internal(set) var dependencies: Set<TaskKey> = []
    /// The tasks that take this one's result.
    public internal(set) var dependents: Set<TaskKey> = []
    /// Dependencies not yet in memory (while waiting).
    public internal(set) var waitingOn: Set<TaskKey> = []
    /// The workers holding the result (while in memory).
    public internal(set) var whoHas: Set<WorkerID> = []
    /// The worker running it (while processing).
    public internal(set) var processingOn: WorkerID?
    /// The duration estimate added to `processingOn`'s occupancy when assigned.
    var occupancyEstimate: Double = 0
    /// Its worker said it began executing (as opposed to waiting in the worker's queue).
    public internal(set) var hasStarted = false
    /// A steal asked of `processingOn`, to this worker, not yet answered.
    public internal(set) var stealingTo: WorkerID?
    /// The size of the result, once known.
    public internal(set) var nbytes: Int64 = 0
    /// The clients holding a future to it.
    public internal(set) var wantedBy: Set<ClientID> = []
    /// Workers this task may run on (names or addresses); empty means any.
    public internal(set) var allowedWorkers: Set<String> = []
    /// How many more times a failure is retried.
    public internal(set) var retriesLeft: Int = 0
    /// The workers that died while running it and why, in order (Dask's `suspicious` count).
    public internal(set) var killedWorkers: [WorkerDeath] = []
    /// Why it erred.
    public internal(set) var error: TaskError?
    /// Put on a worker by a client (scatter): there is no lineage to recompute it from.
    public internal(set) var isScattered = false

    init(spec: TaskSpec, priority: TaskPriority) {
        self.key = spec.key
        self.spec = spec
        self.priority = priority
        self.dependencies = Set(spec.dependencies)
    }

    /// Whether a task whose inputs are all present needs no other task: a candidate for queueing.
    var isRoot: Bool { dependencies.isEmpty }
}

/// A worker that died while running a task, and what its nanny or connection said of it.
public struct WorkerDeath: Sendable, Hashable, CustomStringConvertible {
    public var worker: WorkerID
    public var cause: String

    public init(worker: WorkerID, cause: String) {
        self.worker = worker
        self.cause = cause
    }

    public var description: String { "\(worker) (\(cause))" }
}
