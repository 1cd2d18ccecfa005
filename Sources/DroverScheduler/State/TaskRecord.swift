public import DroverCore

/// The scheduler's view of one task (Dask's `TaskState` on the scheduler).
///
/// Kept small, since the scheduler holds one per task it knows (a million for a `map` of a
/// million): its key is not here but in ``TaskTable``'s key arena, other tasks are named by slot
/// (``TaskSlot``) and workers and clients by small numbers (``SchedulerState/workerNumbers``),
/// the sets hold their usual zero to two elements inline in 8 bytes (``InlineSet``), the
/// function's name and the arguments sit in their submission's arena (``TaskArguments``), and
/// what few tasks need (an error, worker deaths, restrictions, retries, a steal, a user priority)
/// lives in a box that only those tasks allocate. The fields are ordered largest first, so that
/// nothing pads them but the end (`TaskRecordLayoutTests` prints the layout: 96 bytes).
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
        var userPriority = 0
    }

    /// The tasks whose results this one takes as arguments, by slot.
    var dependencies: InlineSet = []
    /// The tasks that take this one's result, by slot.
    var dependents: InlineSet = []
    /// Dependencies not yet in memory (while waiting), by slot.
    var waitingOn: InlineSet = []
    /// The workers holding the result (while in memory), by their numbers in
    /// ``SchedulerState/workerNumbers`` (``SchedulerState/whoHas(_:)`` names them).
    var holders: InlineSet = []
    /// The clients holding a future to it, by their numbers in ``SchedulerState/clientNumbers``
    /// (``SchedulerState/wantedBy(_:)`` names them).
    var clients: InlineSet = []
    /// Its function's name and its arguments, encoded in the submission's arena: decoded only to
    /// send the task.
    let arguments: TaskArguments
    /// The size of the result, once known.
    public internal(set) var nbytes: Int64 = 0
    /// The duration estimate added to the running worker's occupancy when assigned.
    var occupancyEstimate: Double = 0
    /// A one-element array, or none: a copy-on-write box for ``Rare``.
    private var rare: ContiguousArray<Rare> = []
    /// Its position in the client's plan of its submission (``priority``).
    private let planIndex: UInt32
    /// Its submission (``priority``); after 2^32 submissions, later ones share the last value.
    private let generation: UInt32
    /// The number of the worker running it (while processing), or ``noWorker``
    /// (``SchedulerState/processingOn(_:)`` names it).
    var runner: Int32 = TaskRecord.noWorker
    /// Where it is in Dask's task states.
    public internal(set) var state: State = .released
    /// Its worker said it began executing (as opposed to waiting in the worker's queue).
    public internal(set) var hasStarted = false
    /// Put on a worker by a client (scatter): there is no lineage to recompute it from.
    public internal(set) var isScattered = false

    /// The ``runner`` of a task no worker runs.
    static var noWorker: Int32 { -1 }

    init(arguments: TaskArguments, priority: TaskPriority) {
        self.arguments = arguments
        self.planIndex = UInt32(clamping: priority.index)
        self.generation = UInt32(clamping: priority.generation)
        if priority.user != 0 { write(\.userPriority, priority.user) }
    }

    /// The registered name of the function: one string per distinct name in its submission.
    public var function: String { arguments.function }

    /// What the client submitted as `key` (the record's key, kept in ``TaskTable``'s key arena),
    /// its arguments decoded again from the arena.
    public func spec(key: TaskKey) -> TaskSpec {
        TaskSpec(key: key, function: function, arguments: arguments.decoded)
    }

    /// Order among ready tasks: lower runs first (the user's priority, then the submission, then
    /// the position in the client's plan).
    public var priority: TaskPriority {
        TaskPriority(user: read(\.userPriority, default: 0), generation: Int(generation), index: Int(planIndex))
    }

    /// Whether a task whose inputs are all present needs no other task: a candidate for queueing.
    /// (Its dependencies are linked by ``SchedulerState`` once every task of the submission has a slot.)
    var isRoot: Bool { dependencies.isEmpty }

    /// Whether it allocated its box of rare fields.
    var hasRareFields: Bool { !rare.isEmpty }

    /// What a box of rare fields takes: the array's header and one ``Rare``.
    static var rareBoxBytes: Int { 32 + MemoryLayout<Rare>.stride }

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
