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
final class ProcessPool: TaskRunner, @unchecked Sendable {
    // @unchecked: `idle` and `nextRequestID` are guarded by `state`; the rest is immutable.
    let executable: String
    let slots: Int
    private let threads: ThreadPool
    private let state = Mutex(State())

    private struct State {
        var idle: [ChildProcess] = []
        var nextRequestID: UInt64 = 1
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
    static var currentExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    private init(executable: String, size: Int) {
        self.executable = executable
        self.slots = size
        // One thread per process: each waits on its process's socket with blocking reads.
        self.threads = ThreadPool(threads: size, name: "drover-processes")
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
        return await withTaskCancellationHandler {
            exchange(request, with: child, task: task)
        } onCancel: {
            child.kill()
        }
    }

    private func exchange(_ request: Drover_V1_ExecuteRequest, with child: ChildProcess, task: ReadyTask) -> TaskRun {
        do {
            let response = try child.execute(request)
            checkIn(child)
            switch response.outcome {
            case .result(let payload):
                return TaskRun(outcome: .success(.payload(Payload(proto: payload))), processID: response.pid, thread: nil)
            case .error(let error):
                return TaskRun(outcome: .failure(TaskError(proto: error)), processID: response.pid, thread: nil)
            case nil:
                return TaskRun(
                    outcome: .failure(
                        TaskError(
                            kind: .failed, key: task.key, function: task.function,
                            message: "the worker process sent an answer with neither result nor error",
                            location: "pid \(response.pid)"
                        )
                    ),
                    processID: response.pid,
                    thread: nil
                )
            }
        } catch {
            // The process died or broke the protocol: never reuse it.
            child.kill()
            let exit = child.reap()
            let failure = TaskError(
                kind: .workerDied,
                key: task.key,
                function: task.function,
                message: "the worker process running it \(exit) (\(error))",
                location: "pid \(child.pid)"
            )
            return TaskRun(outcome: .failure(failure), processID: child.pid, thread: nil)
        }
    }

    private func checkOut() throws -> (ChildProcess, UInt64) {
        let (idle, requestID) = state.withLock { state in
            defer { state.nextRequestID += 1 }
            return (state.idle.popLast(), state.nextRequestID)
        }
        // The loop never runs more tasks than processes, so a missing idle process means one died
        // (or none started yet): start a fresh one.
        return (try idle ?? ChildProcess(executable: executable), requestID)
    }

    private func checkIn(_ child: ChildProcess) {
        state.withLock { $0.idle.append(child) }
    }
}
