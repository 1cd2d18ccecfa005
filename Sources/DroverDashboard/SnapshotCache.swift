import DroverScheduler
import Foundation

/// One snapshot of the scheduler shared by every reader of the dashboard, taken at most every
/// `maximumAge` however many browsers, API calls and scrapes ask.
///
/// Taking a snapshot counts the scheduler's tasks on its actor, so this bounds the dashboard's
/// cost to the scheduler: a few scans a second. Task executions arrive as deltas (each refresh
/// asks only for those since the last) and are kept here in a ring for the readers.
actor SnapshotCache {
    /// A snapshot (its task stream emptied), its JSON, and the executions kept here.
    struct Shared: Sendable {
        var snapshot: ClusterSnapshot
        var json: Data
        /// Recent executions, oldest first, by the scheduler's sequence numbers.
        var executions: [ClusterHistory.Execution]
        var taken: ContinuousClock.Instant

        /// The executions numbered `cursor` or later.
        func executions(since cursor: Int) -> ArraySlice<ClusterHistory.Execution> {
            var low = executions.startIndex
            var high = executions.endIndex
            while low < high {
                let middle = (low + high) / 2
                if executions[middle].sequence < cursor { low = middle + 1 } else { high = middle }
            }
            return executions[low...]
        }
    }

    private let service: SchedulerService
    private let maximumAge: Duration
    private var executions: HistoryRing<ClusterHistory.Execution>
    private var cursor = 0
    private var latest: Shared?
    /// The refresh under way, which callers arriving meanwhile wait for.
    private var refreshing: Task<Shared, Never>?

    init(service: SchedulerService, maximumAge: Duration = .milliseconds(250), executionCapacity: Int = 5000) {
        self.service = service
        self.maximumAge = maximumAge
        self.executions = HistoryRing(capacity: executionCapacity)
    }

    /// The latest snapshot, taken now if the last is older than `maximumAge`.
    func current() async -> Shared {
        if let latest, ContinuousClock.now - latest.taken < maximumAge { return latest }
        if let refreshing { return await refreshing.value }
        // Unstructured so that a caller cancelled while waiting does not cancel the others'
        // refresh; it only awaits the scheduler's actor, and `refreshing` owns it until it ends.
        let task = Task { await self.refresh() }
        refreshing = task
        return await task.value
    }

    private func refresh() async -> Shared {
        var snapshot = await service.snapshot(taskStreamSince: cursor)
        defer { refreshing = nil }
        for execution in snapshot.taskStream { executions.append(execution) }
        let isNew = !snapshot.taskStream.isEmpty || latest == nil
        cursor = snapshot.taskStreamCursor
        snapshot.taskStream = []
        let json = (try? JSONEncoder().encode(snapshot)) ?? Data("{}".utf8)
        let shared = Shared(
            snapshot: snapshot, json: json, executions: isNew ? executions.elements() : latest!.executions,
            taken: .now)
        latest = shared
        return shared
    }
}
