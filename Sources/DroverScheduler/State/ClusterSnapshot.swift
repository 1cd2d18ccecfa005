/// A picture of the cluster at one moment, for the dashboard, its JSON API and its metrics.
///
/// Built by ``SchedulerService/snapshot(taskStreamSince:)`` from the scheduler's state and
/// ``ClusterHistory``. Plain values only, so it encodes to JSON as is.
public struct ClusterSnapshot: Sendable, Hashable, Codable {
    /// One connected worker.
    public struct Worker: Sendable, Hashable, Codable {
        public var id: String
        public var address: String
        /// Its nanny's address; empty when it has none.
        public var nanny: String
        public var threads: Int
        /// Its memory limit in bytes; 0 for none.
        public var memoryLimit: Int64
        /// The process's resident memory.
        public var memoryBytes: Int64
        /// Results held in memory.
        public var managedBytes: Int64
        /// The rest of the process's memory: `memoryBytes - managedBytes`, never negative.
        public var unmanagedBytes: Int64
        /// Results spilled to disk.
        public var spilledBytes: Int64
        /// "running", "paused" or "closing".
        public var status: String
        public var isRetiring: Bool
        /// Tasks assigned to it and not reported back.
        public var processing: Int
        /// Tasks running now, from its last heartbeat.
        public var executing: Int
        /// Results it holds.
        public var held: Int
        /// Estimated seconds of work assigned to it.
        public var occupancy: Double
        /// How often its nanny restarted it, why it last died, and deaths by kind (`oom`, `signal`, `exit`).
        public var restarts: Int
        public var lastExitCause: String
        public var restartsByKind: [String: Int]
        public var transfers: WorkerRecord.Transfers
    }

    /// The tasks of one function, counted by state.
    public struct FunctionProgress: Sendable, Hashable, Codable {
        public var function: String
        /// Computed results freed since (or tasks not yet started).
        public var released: Int
        /// Waiting for inputs, queued for a worker, or with no worker allowed to run them.
        public var waiting: Int
        public var processing: Int
        public var memory: Int
        public var erred: Int
        /// All its tasks the scheduler knows.
        public var total: Int
        /// Tasks past running: in memory, freed or erred.
        public var done: Int

        public init(
            function: String, released: Int = 0, waiting: Int = 0, processing: Int = 0, memory: Int = 0, erred: Int = 0
        ) {
            self.function = function
            self.released = released
            self.waiting = waiting
            self.processing = processing
            self.memory = memory
            self.erred = erred
            self.total = released + waiting + processing + memory + erred
            self.done = released + memory + erred
        }
    }

    /// Cluster-wide sums.
    public struct Totals: Sendable, Hashable, Codable {
        public var workers: Int
        public var threads: Int
        public var clients: Int
        public var tasks: Int
        /// Tasks by state: released, waiting, queued, no-worker, processing, memory, erred (every key present).
        public var tasksByState: [String: Int]
        public var memoryBytes: Int64
        public var managedBytes: Int64
        public var spilledBytes: Int64
        public var memoryLimit: Int64
        public var executing: Int
        public var restarts: Int
    }

    /// When it was taken, in seconds since 1970.
    public var time: Double
    /// By id.
    public var workers: [Worker]
    /// By function name.
    public var functions: [FunctionProgress]
    public var totals: Totals
    /// The recent events, oldest first.
    public var events: [ClusterHistory.Event]
    /// Task executions recorded since the cursor asked for, oldest first.
    public var taskStream: [ClusterHistory.Execution]
    /// Ask for executions from here next time (``SchedulerService/snapshot(taskStreamSince:)``).
    public var taskStreamCursor: Int
}
