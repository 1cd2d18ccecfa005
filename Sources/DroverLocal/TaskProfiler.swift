public import DroverCore
import Synchronization

/// Records where and when each task of a computation ran, like `dask.diagnostics.Profiler`.
///
/// ```swift
/// let profiler = TaskProfiler()
/// let total = try await graph.compute(scheduler: .processes(workers: 4), profiler: profiler)
/// print(profiler.processIDs)
/// ```
public final class TaskProfiler: Sendable {
    /// One task execution.
    public struct Record: Sendable, Hashable {
        public var key: TaskKey
        public var function: String
        /// The process that ran the task.
        public var processID: Int32
        /// The thread that started the task, when it ran in this process.
        public var thread: String?
        public var start: ContinuousClock.Instant
        public var end: ContinuousClock.Instant
        /// Whether the task produced a result.
        public var succeeded: Bool
    }

    private let storage = Mutex<[Record]>([])

    public init() {}

    /// Every execution recorded so far, in order of completion.
    public var records: [Record] { storage.withLock { $0 } }

    /// The distinct processes that ran tasks.
    public var processIDs: Set<Int32> { Set(records.map(\.processID)) }

    func record(_ record: Record) {
        storage.withLock { $0.append(record) }
    }
}
