/// When the scheduler gives the memory malloc keeps back to the system (`malloc_trim`, by
/// `drover_release_free_memory`): a pure decision, taken by ``SchedulerService`` after each batch.
///
/// Decoding and checking a large submission takes several times what its records keep, and
/// workers' reports, actions and notices are freed between the records they change: glibc keeps
/// those small blocks mapped (a million-task map left ~1 GB). A trim walks the whole heap, so the
/// threshold for reports grows with the tasks held: a map of a million trims some twenty times,
/// not a hundred.
struct MemoryTrimPolicy: Sendable, Hashable {
    /// Tasks submitted or released in one client batch, or workers' events since the last trim,
    /// after which memory is given back.
    let threshold: Int
    /// Events from workers since the last trim.
    private(set) var reportsSinceTrim = 0
    /// Tasks clients submitted or released since the last trim.
    private(set) var churnSinceTrim = 0
    /// Workers' events and clients' tasks since the last clock tick.
    private(set) var eventsSinceTick = 0

    /// Fewer events than this in a clock tick is a quiet one.
    static let quietEvents = 16
    /// A quiet tick trims when at least this many events came since the last trim.
    static let burstEvents = 1_000

    init(threshold: Int = 10_000) {
        self.threshold = threshold
    }

    /// Whether to trim after a client's batch that submitted or released `churn` tasks, with
    /// `tasksHeld` tasks known; counts them towards the next trim, as for reports, so that a
    /// large map sent in parts trims as one sent whole did.
    mutating func shouldTrim(afterClientChurn churn: Int, tasksHeld: Int) -> Bool {
        count(churn, into: \.churnSinceTrim, tasksHeld: tasksHeld)
    }

    /// Whether to trim on a clock tick: the first quiet tick (fewer than ``quietEvents``) after a
    /// burst of at least ``burstEvents`` that no trim followed, so that what a burst freed goes
    /// back when it ends rather than at the next threshold (which grows with the tasks held).
    mutating func shouldTrimOnTick() -> Bool {
        defer { eventsSinceTick = 0 }
        guard eventsSinceTick < Self.quietEvents, reportsSinceTrim + churnSinceTrim >= Self.burstEvents else {
            return false
        }
        trimmed()
        return true
    }

    private mutating func trimmed() {
        reportsSinceTrim = 0
        churnSinceTrim = 0
    }

    /// Whether to trim after a worker's batch of `events`, with `tasksHeld` tasks known; counts
    /// the events towards the next trim, and starts again from zero when it says yes.
    mutating func shouldTrim(afterReports events: Int, tasksHeld: Int) -> Bool {
        count(events, into: \.reportsSinceTrim, tasksHeld: tasksHeld)
    }

    /// Adds `events` to `counter` and says whether it reached the threshold: the policy's
    /// threshold, or half the tasks held once that is larger.
    private mutating func count(_ events: Int, into counter: WritableKeyPath<Self, Int>, tasksHeld: Int) -> Bool {
        self[keyPath: counter] += events
        eventsSinceTick += events
        guard self[keyPath: counter] >= max(threshold, tasksHeld / 2) else { return false }
        trimmed()
        return true
    }
}
