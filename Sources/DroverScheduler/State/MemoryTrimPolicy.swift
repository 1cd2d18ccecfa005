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

    init(threshold: Int = 10_000) {
        self.threshold = threshold
    }

    /// Whether to trim after a client's batch that submitted or released `churn` tasks.
    func shouldTrim(afterClientChurn churn: Int) -> Bool { churn >= threshold }

    /// Whether to trim after a worker's batch of `events`, with `tasksHeld` tasks known; counts
    /// the events towards the next trim, and starts again from zero when it says yes.
    mutating func shouldTrim(afterReports events: Int, tasksHeld: Int) -> Bool {
        reportsSinceTrim += events
        guard reportsSinceTrim >= max(threshold, tasksHeld / 2) else { return false }
        reportsSinceTrim = 0
        return true
    }
}
