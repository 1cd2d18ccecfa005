import DroverCore
import DroverProto
import Foundation
import Synchronization

/// A pool of worker processes: the runner of the processes scheduler.
///
/// Processes start on first use and stay for later computations (like Dask's reused pool). A
/// process that dies fails only the task it was running, with the exit code or signal; the next
/// task gets a fresh process. Processes exit when this program does (end of stream on their socket,
/// and the parent-death signal for one stuck in a long task).
public final class ProcessPool: TaskRunner, @unchecked Sendable {
    // @unchecked: `idle` and `nextRequestID` are guarded by `state`; the rest is immutable.
    let executable: String
    let slots: Int
    private let threads: ThreadPool
    private let state = Mutex(State())

    private struct State {
        var idle: [ChildProcess] = []
        var nextRequestID: UInt64 = 1
        /// Set once a process ran the program's main again: the program must be fixed, and any
        /// further process would only do the same.
        var refusal: ChildProcess.SpawnError?
    }

    var executor: any TaskExecutor { threads }

    private static let pools = Mutex<[String: ProcessPool]>([:])

    /// The pool for `executable` with `size` processes, made on first use.
    static func shared(executable: String, size: Int) -> ProcessPool {
        pools.withLock { pools in
            let name = "\(size)@\(executable)"
            if let pool = pools[name] { return pool }
            let pool = ProcessPool(executable: executable, size: size)
            pools[name] = pool
            return pool
        }
    }

    /// The path of the running program, which workers re-execute by default.
    public static var currentExecutablePath: String { currentExecutable }

    static var currentExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    private init(executable: String, size: Int) {
        self.executable = executable
        self.slots = size
        // One thread per process: each waits on its process's socket with blocking reads.
        self.threads = ThreadPool(threads: size, name: "drover-io")
    }

    func run(_ task: ReadyTask) async -> TaskRun {
        let child: ChildProcess
        let requestID: UInt64
        do {
            (child, requestID) = try checkOut()
        } catch {
            let failure = TaskError(
                kind: .workerDied, key: task.key, function: task.function, message: String(describing: error)
            )
            return TaskRun(outcome: .failure(failure), processID: 0, thread: nil)
        }
        var request = Drover_V1_ExecuteRequest()
        request.id = requestID
        request.key = task.key.rawValue
        request.function = task.function
        do {
            request.arguments = try task.arguments.map { try $0.proto() }
        } catch {
            checkIn(child)
            let failure = TaskError(
                kind: .badArgument, key: task.key, function: task.function,
                message: "an argument cannot be encoded for another process: \(error)"
            )
            return TaskRun(outcome: .failure(failure), processID: getpid(), thread: nil)
        }
        // Cancellation (another task of the computation failed) kills the process, but only while
        // it works for us: once it has answered, it may already be serving someone else.
        let guardrail = CancellationGuard()
        let exchanged = await withTaskCancellationHandler {
            Result { try child.execute(request) }
        } onCancel: {
            if guardrail.killUnlessFinished() { child.kill() }
        }
        let wasKilled = !guardrail.finish()
        // From here on nothing else touches `child`.
        switch exchanged {
        case .success(let response) where !wasKilled:
            checkIn(child)
            return Self.taskRun(from: response, task: task)
        case .success, .failure:
            // The process died, broke the protocol, or was killed: reap it, never reuse it.
            child.kill()
            let exit = child.reap()
            let reason = if case .failure(let error) = exchanged { " (\(error))" } else { "" }
            let failure = TaskError(
                kind: .workerDied,
                key: task.key,
                function: task.function,
                message: "the worker process running it \(exit)\(reason)",
                location: "pid \(child.pid)"
            )
            return TaskRun(outcome: .failure(failure), processID: child.pid, thread: nil)
        }
    }

    private static func taskRun(from response: Drover_V1_ExecuteResponse, task: ReadyTask) -> TaskRun {
        switch response.outcome {
        case .result(let payload):
            return TaskRun(outcome: .success(.payload(Payload(proto: payload))), processID: response.pid, thread: nil)
        case .error(let error):
            return TaskRun(outcome: .failure(TaskError(proto: error)), processID: response.pid, thread: nil)
        case nil:
            let failure = TaskError(
                kind: .failed, key: task.key, function: task.function,
                message: "the worker process sent an answer with neither result nor error",
                location: "pid \(response.pid)"
            )
            return TaskRun(outcome: .failure(failure), processID: response.pid, thread: nil)
        }
    }

    private func checkOut() throws -> (ChildProcess, UInt64) {
        let (idle, requestID, refusal) = state.withLock { state in
            defer { state.nextRequestID += 1 }
            return (state.idle.popLast(), state.nextRequestID, state.refusal)
        }
        if let idle { return (idle, requestID) }
        if let refusal { throw refusal }
        // The loop never runs more tasks than processes, so a missing idle process means one died
        // (or none started yet): start a fresh one.
        do {
            return (try ChildProcess(executable: executable), requestID)
        } catch let error as ChildProcess.SpawnError where error.ranMainAgain {
            state.withLock { $0.refusal = $0.refusal ?? error }
            throw error
        }
    }

    private func checkIn(_ child: ChildProcess) {
        state.withLock { $0.idle.append(child) }
    }
}

/// Decides, once, whether a process was killed by cancellation or finished its task.
private final class CancellationGuard: Sendable {
    private let state = Mutex((finished: false, killed: false))

    /// Called on cancellation: true when the process is still working for us and may be killed.
    func killUnlessFinished() -> Bool {
        state.withLock { state in
            if state.finished { return false }
            state.killed = true
            return true
        }
    }

    /// Called after the exchange: true when the process is healthy and may serve again.
    func finish() -> Bool {
        state.withLock { state in
            state.finished = true
            return !state.killed
        }
    }
}
