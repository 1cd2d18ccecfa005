public import DroverCore

/// The decisions of a single-machine scheduler, with no IO: which task runs next, when a result is
/// no longer needed, when the computation is over.
///
/// Driven by ``handle(_:into:)``: the shell feeds it events (a task finished or failed) and performs
/// the actions it returns (run a task, release a result, finish, fail). At most `slots` tasks run at
/// once; among ready tasks the one with the lowest plan index (depth-first order) goes first.
///
/// States of a task: waiting (dependencies missing) → ready → running → done, then released once
/// every dependent has finished (targets are never released). After a failure nothing new runs.
public struct LocalSchedulerState: Sendable {
    /// What happened.
    public enum Event: Sendable, Hashable {
        /// The computation begins.
        case started
        /// The task with this plan index produced its result.
        case taskFinished(Int)
        /// The task with this plan index failed.
        case taskFailed(Int, TaskError)
    }

    /// What the shell must do.
    public enum Action: Sendable, Hashable {
        /// Run the task with this plan index: its dependencies' results are available.
        case run(Int)
        /// Drop the result of this task: nothing needs it any more.
        case release(Int)
        /// Every target is computed.
        case finish
        /// The computation failed with this error; no further task will be started.
        case fail(TaskError)
    }

    /// The phases of the whole computation.
    public enum Phase: Sendable, Hashable {
        case notStarted, running, finished, failed
    }

    public private(set) var phase: Phase = .notStarted
    /// How many tasks are running.
    public private(set) var runningCount = 0
    /// How many tasks have finished.
    public private(set) var finishedCount = 0

    private let slots: Int
    private let dependencies: GraphPlan.Adjacency
    private let dependents: GraphPlan.Adjacency
    private var missingDependencies: [Int]
    private var unfinishedDependents: [Int]
    private var isTarget: [Bool]
    private var ready: MinHeap<Int>

    /// Creates the state for `plan`, running at most `slots` tasks at once.
    public init(plan: GraphPlan, slots: Int) {
        precondition(slots > 0, "A scheduler needs at least one slot.")
        self.slots = slots
        self.dependencies = plan.dependencies
        self.dependents = plan.dependents
        self.missingDependencies = (0..<plan.count).map { plan.dependencies.count(of: $0) }
        self.unfinishedDependents = (0..<plan.count).map { plan.dependents.count(of: $0) }
        self.isTarget = [Bool](repeating: false, count: plan.count)
        for target in plan.targets { isTarget[target] = true }
        self.ready = MinHeap()
    }

    /// Handles one event, appending the resulting actions to `actions`.
    public mutating func handle(_ event: Event, into actions: inout [Action]) {
        switch (phase, event) {
        case (.notStarted, .started):
            phase = .running
            for task in 0..<missingDependencies.count where missingDependencies[task] == 0 {
                ready.push(task)
            }
            if missingDependencies.isEmpty {
                phase = .finished
                actions.append(.finish)
                return
            }
            fillSlots(into: &actions)

        case (.running, .taskFinished(let task)):
            runningCount -= 1
            finishedCount += 1
            for dependent in dependents[task] {
                missingDependencies[dependent] -= 1
                if missingDependencies[dependent] == 0 { ready.push(dependent) }
            }
            for dependency in dependencies[task] {
                unfinishedDependents[dependency] -= 1
                if unfinishedDependents[dependency] == 0 && !isTarget[dependency] {
                    actions.append(.release(dependency))
                }
            }
            if finishedCount == missingDependencies.count {
                phase = .finished
                actions.append(.finish)
            } else {
                fillSlots(into: &actions)
            }

        case (.running, .taskFailed(_, let error)):
            runningCount -= 1
            phase = .failed
            actions.append(.fail(error))

        case (.failed, .taskFinished), (.failed, .taskFailed):
            // Tasks that were running when another failed: their outcome no longer matters.
            runningCount -= 1

        case (.notStarted, _), (.running, .started), (.finished, _), (.failed, .started):
            // Out-of-order input: nothing to do (the shell never sends these).
            break
        }
    }

    /// Handles one event and returns the resulting actions.
    public mutating func handle(_ event: Event) -> [Action] {
        var actions: [Action] = []
        handle(event, into: &actions)
        return actions
    }

    private mutating func fillSlots(into actions: inout [Action]) {
        while runningCount < slots, let task = ready.pop() {
            runningCount += 1
            actions.append(.run(task))
        }
    }

    /// Checks the bookkeeping; tests call it after every event.
    public func checkInvariants() throws(InvariantViolation) {
        guard runningCount >= 0 && runningCount <= slots else {
            throw InvariantViolation("\(runningCount) tasks running with \(slots) slots")
        }
        let total = missingDependencies.count
        guard finishedCount <= total else {
            throw InvariantViolation("\(finishedCount) tasks finished of \(total)")
        }
        if phase == .running && runningCount == 0 && ready.isEmpty && finishedCount < total {
            throw InvariantViolation("stalled: nothing running or ready with \(finishedCount) of \(total) done")
        }
    }
}
