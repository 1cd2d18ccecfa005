import DroverCore

/// A task whose arguments are resolved, ready to run.
struct ReadyTask: Sendable {
    var index: Int
    var key: TaskKey
    var function: String
    /// The function's body when this process has it.
    var implementation: AnyTaskFunction?
    var arguments: [ArgumentValue]
}

/// The outcome of running one task.
struct TaskRun: Sendable {
    var outcome: Result<ArgumentValue, TaskError>
    var processID: Int32
    var thread: String?
}

/// Runs tasks for the local scheduling loop: in this thread, on a pool of threads, or in child
/// processes. The loop bounds how many run at once by ``slots``.
protocol TaskRunner: Sendable {
    /// How many tasks may run at once.
    var slots: Int { get }
    /// Where tasks run: the loop starts each task as a child task preferring this executor.
    var executor: any TaskExecutor { get }
    /// Runs one task.
    func run(_ task: ReadyTask) async -> TaskRun
}
