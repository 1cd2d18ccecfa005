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
    }

    /// Starts `executable` in the task-worker role and waits for its greeting.
    init(executable: String) throws {
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

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, childEnd, Self.childFD)

        var environment = ProcessInfo.processInfo.environment
        environment[Self.fdVariable] = String(Self.childFD)
        environment[Self.parentVariable] = String(getpid())
        let argv = [executable]
        let envp = environment.map { "\($0.key)=\($0.value)" }

        var pid: pid_t = 0
        let status = withCStrings(argv) { argvPointers in
            withCStrings(envp) { envPointers in
                posix_spawn(&pid, executable, &actions, nil, argvPointers, envPointers)
            }
        }
        // Only the child may hold its end: with ours open, its exit would not read as end of stream.
        close(childEnd)
        guard status == 0 else {
            close(fds[0])
            throw SpawnError(
                description: "cannot start worker process '\(executable)': \(String(cString: strerror(status)))")
        }
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
            let exit = reap()
            throw SpawnError(
                description: "worker process '\(executable)' (pid \(pid)) \(exit) without serving tasks: "
                    + "its main must call Drover.bootstrap(registry) first"
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
        close(socket)
        var status: Int32 = 0
        var result: pid_t
        repeat {
            result = waitpid(pid, &status, 0)
        } while result < 0 && errno == EINTR
        isReaped = true
        return Self.describe(status: status)
    }

    /// "exited with code 3", "was killed by signal 9 (SIGKILL)".
    static func describe(status: Int32) -> String {
        let signal = status & 0x7F
        if signal == 0 {
            return "exited with code \((status >> 8) & 0xFF)"
        }
        let name = signalName(signal)
        return "was killed by signal \(signal)\(name.map { " (\($0))" } ?? "")"
    }

    static func signalName(_ signal: Int32) -> String? {
        switch signal {
        case SIGKILL: "SIGKILL"
        case SIGSEGV: "SIGSEGV"
        case SIGABRT: "SIGABRT"
        case SIGTERM: "SIGTERM"
        case SIGBUS: "SIGBUS"
        case SIGILL: "SIGILL"
        case SIGTRAP: "SIGTRAP"
        case SIGFPE: "SIGFPE"
        case SIGINT: "SIGINT"
        default: nil
        }
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

/// Calls `body` with a NULL-terminated C array of the strings.
private func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { for pointer in pointers { free(pointer) } }
    return body(pointers)
}
