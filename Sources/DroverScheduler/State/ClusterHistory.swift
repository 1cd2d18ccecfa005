public import DroverCore

/// What the dashboard shows of the cluster's past: recent events (workers joining, leaving, dying,
/// pausing; tasks erring), recent task executions, and each worker's restarts.
///
/// Pure bookkeeping: the shell passes the time in (seconds since 1970). Each record costs an
/// append to a bounded ring; nothing here grows with the number of tasks.
public struct ClusterHistory: Sendable {
    /// Something that happened to a worker or a task.
    public struct Event: Sendable, Hashable, Codable {
        public enum Kind: String, Sendable, Hashable, Codable {
            case joined, restarted, left, died, paused, resumed, retiring
            case oomKilled = "oom-killed"
            case taskErred = "task-erred"
        }

        /// Its place among all events recorded.
        public var sequence: Int
        /// Seconds since 1970.
        public var time: Double
        public var kind: Kind
        /// The worker's id; empty when none is concerned.
        public var worker: String
        /// The cause, the error message, or the worker's address.
        public var detail: String
    }

    /// A task that ran on a worker, from start to stop (seconds since 1970).
    public struct Execution: Sendable, Hashable, Codable {
        /// Its place among all executions recorded: ask for those after it with ``executions(since:)``.
        public var sequence: Int
        public var worker: String
        public var function: String
        public var key: String
        public var start: Double
        public var stop: Double
    }

    /// A worker's deaths as its nanny reported them, kept across its re-registrations.
    public struct Exits: Sendable, Hashable, Codable {
        /// How often its nanny restarted it.
        public var restarts = 0
        public var lastCause = ""
        /// Deaths by kind: `oom`, `signal` or `exit`.
        public var byKind: [String: Int] = [:]
    }

    /// How a worker died, as a metric label.
    public enum ExitKind: String, Sendable, Hashable, Codable {
        case oom, signal, exit
    }

    private(set) var events: HistoryRing<Event>
    private(set) var executionRing: HistoryRing<Execution>
    /// Deaths by worker id.
    public private(set) var exits: [WorkerID: Exits] = [:]
    /// Workers that died and have not registered again: their next registration is a restart.
    private var awaitingRestart: Set<WorkerID> = []

    /// Keeps the last `eventCapacity` events and `executionCapacity` executions.
    public init(eventCapacity: Int = 200, executionCapacity: Int = 5000) {
        events = HistoryRing(capacity: eventCapacity)
        executionRing = HistoryRing(capacity: executionCapacity)
    }

    /// The kept events, oldest first.
    public var recentEvents: [Event] { events.elements() }

    /// The kept executions numbered `cursor` or later, oldest first.
    public func executions(since cursor: Int = 0) -> [Execution] { executionRing.elements(since: cursor) }

    /// The sequence number the next execution gets: a cursor for ``executions(since:)``.
    public var executionCursor: Int { executionRing.appended }

    // MARK: - Recording

    /// A worker registered: a restart when it died before, a join otherwise.
    public mutating func workerJoined(_ id: WorkerID, address: String, at now: Double) {
        if awaitingRestart.remove(id) != nil {
            record(.restarted, id, "at \(address) after: \(exits[id]?.lastCause ?? "")", at: now)
        } else {
            record(.joined, id, address, at: now)
        }
    }

    /// A worker is gone without its nanny saying it died (it retired, or it had no nanny).
    public mutating func workerLeft(_ id: WorkerID, cause: String, at now: Double) {
        record(.left, id, cause, at: now)
    }

    /// A nanny reported the worker's death; `restarts` is the nanny's count, this death included.
    public mutating func workerExited(_ id: WorkerID, cause: String, kind: ExitKind, restarts: Int, at now: Double) {
        var record = exits[id] ?? Exits()
        record.restarts = max(restarts, record.restarts + 1)
        record.lastCause = cause
        record.byKind[kind.rawValue, default: 0] += 1
        exits[id] = record
        awaitingRestart.insert(id)
        self.record(kind == .oom ? .oomKilled : .died, id, cause, at: now)
    }

    public mutating func workerPaused(_ id: WorkerID, at now: Double) { record(.paused, id, "", at: now) }

    public mutating func workerResumed(_ id: WorkerID, at now: Double) { record(.resumed, id, "", at: now) }

    public mutating func workerRetiring(_ id: WorkerID, reason: String, at now: Double) {
        record(.retiring, id, reason, at: now)
    }

    /// A task failed: on `worker`, which reported its function threw (each attempt counts, retried
    /// or not), or at the scheduler (`worker` nil: `KilledWorker`).
    public mutating func taskErred(_ key: TaskKey, function: String, worker: WorkerID?, message: String, at now: Double)
    {
        record(.taskErred, worker, "\(function) '\(key)': \(message)", at: now)
    }

    /// A worker finished a task `duration` seconds long; its report arrived at `now`.
    public mutating func taskExecuted(
        _ key: TaskKey, function: String, worker: WorkerID, duration: Double, arrivedAt now: Double
    ) {
        executionRing.append(
            Execution(
                sequence: executionRing.appended, worker: worker.rawValue, function: function, key: key.rawValue,
                start: now - max(0, duration), stop: now))
    }

    private mutating func record(_ kind: Event.Kind, _ worker: WorkerID?, _ detail: String, at now: Double) {
        events.append(
            Event(sequence: events.appended, time: now, kind: kind, worker: worker?.rawValue ?? "", detail: detail))
    }
}
