public import DroverCore

/// The scheduler's view of one task (Dask's `TaskState` on the scheduler).
///
/// Kept small, since the scheduler holds one per task it knows (a million for a `map` of a
/// million): the sets hold their usual zero to two elements inline (``InlineSet``), and what
/// few tasks need (an error, worker deaths, restrictions, retries, a steal) lives in a box that
/// only those tasks allocate.
public struct TaskRecord: Sendable {
    /// Dask's task states, as the scheduler sees them.
    ///
    /// `released` → `waiting` (inputs missing) → `queued` (a root task waiting for a free worker) or
    /// `noWorker` (no worker may run it) → `processing` → `memory`; or `erred`. A task nothing needs
    /// any more is `forgotten` and removed.
    public enum State: Sendable, Hashable {
        case released, waiting, queued, noWorker, processing, memory, erred
    }

    /// The fields most tasks never use.
    struct Rare: Sendable {
        var stealingTo: WorkerID?
        var allowedWorkers: Set<String> = []
        var retriesLeft = 0
        var killedWorkers: [WorkerDeath] = []
        var error: TaskError?
    }

    public var key: TaskKey { spec.key }
    public var spec: TaskSpec
    public internal(set) var state: State = .released
    /// Its worker said it began executing (as opposed to waiting in the worker's queue).
    public internal(set) var hasStarted = false
    /// Put on a worker by a client (scatter): there is no lineage to recompute it from.
    public internal(set) var isScattered = false
    /// Order among ready tasks: lower runs first (submission, then position in the client's plan).
    public internal(set) var priority: TaskPriority
    /// The tasks whose results this one takes as arguments, by slot.
    var dependencies: InlineSet<TaskSlot> = []
    /// The tasks that take this one's result, by slot.
    var dependents: InlineSet<TaskSlot> = []
    /// Dependencies not yet in memory (while waiting), by slot.
    var waitingOn: InlineSet<TaskSlot> = []
    /// The workers holding the result (while in memory).
    public internal(set) var whoHas: InlineSet<WorkerID> = []
    /// The worker running it (while processing).
    public internal(set) var processingOn: WorkerID?
    /// The duration estimate added to `processingOn`'s occupancy when assigned.
    var occupancyEstimate: Double = 0
    /// The size of the result, once known.
    public internal(set) var nbytes: Int64 = 0
    /// The clients holding a future to it.
    public internal(set) var wantedBy: InlineSet<ClientID> = []
    /// A one-element array, or none: a copy-on-write box for ``Rare``.
    private var rare: ContiguousArray<Rare> = []

    init(spec: TaskSpec, priority: TaskPriority) {
        self.spec = spec
        self.priority = priority
    }

    /// Whether a task whose inputs are all present needs no other task: a candidate for queueing.
    /// (Its dependencies are linked by ``SchedulerState`` once every task of the submission has a slot.)
    var isRoot: Bool { dependencies.isEmpty }

    private func read<Value>(_ field: KeyPath<Rare, Value>, default value: Value) -> Value {
        rare.first?[keyPath: field] ?? value
    }

    private mutating func write<Value>(_ field: WritableKeyPath<Rare, Value>, _ value: Value) {
        if rare.isEmpty { rare.append(Rare()) }
        rare[0][keyPath: field] = value
    }

    /// A steal asked of `processingOn`, to this worker, not yet answered.
    public internal(set) var stealingTo: WorkerID? {
        get { read(\.stealingTo, default: nil) }
        set { if newValue != nil || !rare.isEmpty { write(\.stealingTo, newValue) } }
    }
    /// Workers this task may run on (names or addresses); empty means any.
    public internal(set) var allowedWorkers: Set<String> {
        get { read(\.allowedWorkers, default: []) }
        set { if !newValue.isEmpty || !rare.isEmpty { write(\.allowedWorkers, newValue) } }
    }
    /// How many more times a failure is retried.
    public internal(set) var retriesLeft: Int {
        get { read(\.retriesLeft, default: 0) }
        set { if newValue != 0 || !rare.isEmpty { write(\.retriesLeft, newValue) } }
    }
    /// The workers that died while running it and why, in order (Dask's `suspicious` count).
    public internal(set) var killedWorkers: [WorkerDeath] {
        get { read(\.killedWorkers, default: []) }
        set { if !newValue.isEmpty || !rare.isEmpty { write(\.killedWorkers, newValue) } }
    }
    /// Why it erred.
    public internal(set) var error: TaskError? {
        get { read(\.error, default: nil) }
        set { if newValue != nil || !rare.isEmpty { write(\.error, newValue) } }
    }
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
