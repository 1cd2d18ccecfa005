public import DroverCore

/// The scheduler's view of one worker (not to be confused with the worker's own `WorkerState`).
public struct WorkerRecord: Sendable {
    /// Can transition from `running` to `paused` and back.
    public enum Status: Sendable, Hashable {
        /// Accepts new tasks.
        case running
        /// Under memory pressure: runs nothing new, still serves its data.
        case paused
        /// Retiring (its results move to other workers before it closes), or its connection broke
        /// and its nanny has not yet said why: gets nothing new.
        case closing
    }

    public let id: WorkerID
    /// Where peers and clients fetch its data.
    public let address: String
    public let threads: Int
    public let memoryLimit: Int64
    /// The address of its nanny; empty when it has none.
    public let nanny: String
    /// The host it shares memory with other workers on (`RegisterWorker.host`); empty: unknown.
    public let host: String
    /// Tells this registration apart from an earlier one under the same id.
    public let incarnation: Int
    public internal(set) var status: Status = .running
    /// Asked to retire: closes once no result lives only on it and it runs nothing.
    public internal(set) var isRetiring = false
    /// Tasks assigned to it and not yet reported back, by slot (``SchedulerState/processing(on:)``
    /// names them).
    var processingSlots: Set<TaskSlot> = []
    /// The tasks of `processing` that seceded (Dask's `long_running`): they hold no thread.
    var longRunningSlots: Set<TaskSlot> = []
    /// Tasks holding or waiting for one of its threads: `processing` less `longRunning`.
    public var occupyingCount: Int { processingSlots.count - longRunningSlots.count }
    /// How many tasks are assigned to it and not yet reported back.
    public var processingCount: Int { processingSlots.count }
    /// Results it holds, by slot (``SchedulerState/held(by:)`` names them): 4 bytes each, where a
    /// set of keys took 24.
    var heldSlots: Set<TaskSlot> = []
    /// How many results it holds.
    public var heldCount: Int { heldSlots.count }
    /// Estimated seconds of work assigned to it.
    public internal(set) var occupancy: Double = 0
    /// Bytes of results it holds.
    public internal(set) var managedBytes: Int64 = 0
    /// The process's resident memory, from its last heartbeat.
    public internal(set) var memoryBytes: Int64 = 0
    /// Results in its memory and on its disk, as its last heartbeat said.
    public internal(set) var reportedManagedBytes: Int64 = 0
    public internal(set) var spilledBytes: Int64 = 0
    /// Tasks running now (not merely assigned), as its last heartbeat said.
    public internal(set) var executing: Int = 0
    /// Its peer transfers since its process started, as its last heartbeat said.
    public internal(set) var transfers = Transfers()
    /// When the scheduler last heard from it (``SchedulerState/now``).
    public internal(set) var lastHeard: Duration

    init(
        id: WorkerID, address: String, threads: Int, memoryLimit: Int64, nanny: String = "", host: String = "",
        incarnation: Int = 0, joined: Duration = .zero
    ) {
        self.lastHeard = joined
        self.id = id
        self.address = address
        self.threads = max(1, threads)
        self.memoryLimit = memoryLimit
        self.nanny = nanny
        self.host = host
        self.incarnation = incarnation
    }

    /// A worker's peer transfers since its process started: results it fetched from other workers,
    /// and results it served to workers and clients.
    public struct Transfers: Sendable, Hashable, Codable {
        public var incomingCount: Int64
        public var incomingBytes: Int64
        /// Seconds spent fetching (summed over concurrent fetches).
        public var incomingSeconds: Double
        public var outgoingBytes: Int64

        public init(
            incomingCount: Int64 = 0, incomingBytes: Int64 = 0, incomingSeconds: Double = 0, outgoingBytes: Int64 = 0
        ) {
            self.incomingCount = incomingCount
            self.incomingBytes = incomingBytes
            self.incomingSeconds = incomingSeconds
            self.outgoingBytes = outgoingBytes
        }
    }

    /// Whether `names` (worker ids or addresses) allow this worker; empty allows all.
    func isAllowed(by names: Set<String>) -> Bool {
        names.isEmpty || names.contains(id.rawValue) || names.contains(address)
    }
}
