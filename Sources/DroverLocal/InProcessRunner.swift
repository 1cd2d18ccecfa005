import CDroverSupport
import DroverCore
import Foundation

/// Runs task bodies in this process, on the threads of a ``ThreadPool``.
struct InProcessRunner: TaskRunner {
    let pool: ThreadPool
    let slots: Int
    /// Whether to read each task's thread name (a system call: only for a profiler).
    let recordsThreads: Bool
    private let processID = getpid()
    private let location = "pid \(getpid())"

    init(pool: ThreadPool, slots: Int, recordsThreads: Bool) {
        self.pool = pool
        self.slots = slots
        self.recordsThreads = recordsThreads
    }

    var executor: any TaskExecutor { pool }

    func run(_ task: ReadyTask) async -> TaskRun {
        let thread = recordsThreads ? currentThreadName() : nil
        guard let function = task.implementation else {
            let error = TaskError.unknownFunction(task.function, key: task.key, known: [], location: location)
            return TaskRun(outcome: .failure(error), processID: processID, thread: thread)
        }
        let outcome = await function.run(key: task.key, arguments: task.arguments, location: location)
        return TaskRun(outcome: outcome.map { .object($0) }, processID: processID, thread: thread)
    }
}

/// The name of the calling thread, e.g. "drover-thread-2".
func currentThreadName() -> String? {
    var buffer = [CChar](repeating: 0, count: 64)
    guard drover_current_thread_name(&buffer, buffer.count) == 0 else { return nil }
    let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return name.isEmpty ? nil : name
}
