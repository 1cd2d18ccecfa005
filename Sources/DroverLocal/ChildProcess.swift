import DroverProto
import Foundation

/// One worker process of the processes scheduler: this (or another) program re-executed in the
/// task-worker role, talking protobuf frames over a Unix socket on its fd 3.
final class ChildProcess: @unchecked Sendable {
    // @unchecked: `socket` and `pid` are immutable. `isReaped` is written only by `reap`, called by
    // the one task that owns the child (the pool hands a child to one task at a time) after the
    // cancellation handler that may call `kill` can no longer do so.
    let pid: pid_t
    let socket: Int32
    let executable: String
    private var isReaped = false

    /// The environment variable that tells `Drover.bootstrap` to serve tasks on that fd.
    static let fdVariable = "DROVER_TASK_PROCESS_FD"
    /// The parent's pid, so a child started by a parent that already died exits at once.
    static let parentVariable = "DROVER_PARENT_PID"
    /// The fd the child serves on.
    static let childFD: Int32 = 3
    /// How long a new process may take to greet before it is taken for a program that does not
    /// call `Drover.bootstrap` (and killed).
    static let greetingTimeoutMilliseconds: Int32 = 30_000

    struct SpawnError: Error, CustomStringConvertible {
        var description: String
        /// The process ran the program's `main` again (``ChildRole``): every process of this
        /// program would do the same, so the pool starts no more.
        var ranMainAgain = false
    }

    /// Starts `executable` in the task-worker role and waits for its greeting.
    init(executable: String) throws {
        ChildRole.refuseUnplayedRole(starting: "a worker process of the processes scheduler")
        self.executable = executable
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            throw SpawnError(description: "socketpair failed: \(String(cString: strerror(errno)))")
        }
        var childEnd = fds[1]
        if childEnd == Self.childFD {
            // dup2 onto itself would keep FD_CLOEXEC set; move it out of the way first.
            childEnd = fcntl(fds[1], F_DUPFD_CLOEXEC, 10)
            close(fds[1])
        }

        var environment = ProcessInfo.processInfo.environment
        environment[Self.fdVariable] = String(Self.childFD)
        environment[Self.parentVariable] = String(getpid())
        ChildRole.mark(&environment, role: ChildRole.taskProcess)
        let pid: pid_t
        do {
            pid = try Spawn.start(
                executable, arguments: [], environment: environment, descriptors: [(childEnd, Self.childFD)]
            )
        } catch {
            close(childEnd)
            close(fds[0])
            throw SpawnError(description: "cannot start worker process '\(executable)': \(error)")
        }
        // Only the child may hold its end: with ours open, its exit would not read as end of stream.
        close(childEnd)
        self.pid = pid
        self.socket = fds[0]

        // The greeting proves the program called Drover.bootstrap; without it we would wait forever.
        var greeting: Drover_V1_ExecuteResponse?
        if Frames.waitReadable(socket, milliseconds: Self.greetingTimeoutMilliseconds) {
            greeting = try? Frames.read(Drover_V1_ExecuteResponse.self, from: socket)
        } else {
            _ = Glibc.kill(pid, SIGKILL)
        }
        guard let greeting, greeting.id == 0 else {
            let status = reapStatus()
            if ChildRole.ranMainAgain(status: status) {
                throw SpawnError(
                    description: "the worker process '\(executable)' (pid \(pid)) ran the program's main again "
                        + "instead of serving tasks (it exited with code \(ChildRole.exitCode) before starting "
                        + "processes of its own): call `await Drover.bootstrap(registry)` first thing in main, "
                        + "before anything computes on .processes (or `await DroverCommand.bootstrap(registry)`, "
                        + "which also serves a local cluster's roles)",
                    ranMainAgain: true)
            }
            let exit = Spawn.describe(status: status)
            throw SpawnError(
                description: "worker process '\(executable)' (pid \(pid)) \(exit) without serving tasks: "
                    + "its main must call `await Drover.bootstrap(registry)` (or "
                    + "`DroverCommand.bootstrap(registry)`) first"
            )
        }
    }

    /// Sends one task and waits for its outcome.
    ///
    /// - Throws: ``Frames/Failure`` when the process dies or breaks the protocol.
    func execute(_ request: Drover_V1_ExecuteRequest) throws -> Drover_V1_ExecuteResponse {
        try Frames.write(request, to: socket)
        guard let response = try Frames.read(Drover_V1_ExecuteResponse.self, from: socket) else {
            throw Frames.Failure(description: "the worker process closed its connection")
        }
        guard response.id == request.id else {
            throw Frames.Failure(description: "answer to request \(response.id) while waiting for \(request.id)")
        }
        return response
    }

    /// Kills the process without waiting. Safe from a cancellation handler: the pid cannot be
    /// reaped (and reused) while that handler may still run.
    func kill() {
        if !isReaped { _ = Glibc.kill(pid, SIGKILL) }
    }

    /// Ends the process (if it still runs), collects its exit status and describes it.
    func reap() -> String {
        guard !isReaped else { return "exited" }
        return Spawn.describe(status: reapStatus())
    }

    /// Closes the socket (the process ends on end of stream) and collects the raw wait status.
    private func reapStatus() -> Int32 {
        close(socket)
        let status = Spawn.wait(pid)
        isReaped = true
        return status
    }

    deinit {
        if !isReaped {
            close(socket)
            // The child exits on end of stream; collect it so it does not linger as a zombie.
            var status: Int32 = 0
            _ = waitpid(pid, &status, WNOHANG)
        }
    }
}
