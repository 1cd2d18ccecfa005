import CDroverSupport
import DroverCore
import Foundation

/// Runs task bodies in this process, on the threads of a ``ThreadPool``.
struct InProcessRunner: TaskRunner {
    let pool: ThreadPool
    let slots: Int
    var executor: any TaskExecutor { pool }

    func run(_ task: ReadyTask) async -> TaskRun {
        let processID = getpid()
        let thread = currentThreadName()
        guard let function = task.implementation else {
            let error = TaskError.unknownFunction(task.function, key: task.key, known: [], location: "pid \(processID)")
            return TaskRun(outcome: .failure(error), processID: processID, thread: thread)
        }
        let outcome = await function.run(key: task.key, arguments: task.arguments, location: "pid \(processID)")
        return TaskRun(outcome: outcome.map { .object($0) }, processID: processID, thread: thread)
    }
}

/// The name of the calling thread, e.g. "drover-threads-2".
func currentThreadName() -> String? {
    var buffer = [CChar](repeating: 0, count: 64)
    guard drover_current_thread_name(&buffer, buffer.count) == 0 else { return nil }
    let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return name.isEmpty ? nil : name
}
