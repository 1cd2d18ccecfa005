import CDroverSupport
import DroverCore
public import Foundation

/// Starts programs with `posix_spawn`: no Foundation `Process` (whose `waitUntilExit` can spin
/// forever on Linux when called off the main thread), and exact control of the child's descriptors.
public enum Spawn {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        /// The child ran the program's `main` again instead of the role it was started for
        /// (``ChildRole``): starting it again would do the same.
        public var ranMainAgain: Bool

        public init(description: String, ranMainAgain: Bool = false) {
            self.description = description
            self.ranMainAgain = ranMainAgain
        }
    }

    /// Starts `executable` with `arguments`; each `(from, to)` in `descriptors` makes the parent's
    /// descriptor `from` the child's descriptor `to`. No other descriptor from 3 up reaches the
    /// child, close-on-exec or not: a listening socket or a pipe that some library opened without
    /// the flag would otherwise live on in every child (and keep a port bound or a pipe open after
    /// this process exits). Descriptors 0, 1 and 2 are inherited unless `descriptors` replaces them.
    ///
    /// - Returns: The child's pid; reap it with ``wait(_:)``.
    public static func start(
        _ executable: String,
        arguments: [String],
        environment: [String: String] = ProcessInfo.processInfo.environment,
        descriptors: [(from: Int32, to: Int32)]
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // A clean signal state: the spawn thread may have been created by a thread that blocks
        // signals (Dispatch's and NIO's do), and a child inherits the mask — one that blocks SIGTERM
        // cannot be stopped. Termination signals get their default action back; others keep
        // what this process set (a nanny's workers inherit its ignored SIGPIPE).
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var terminating = sigset_t()
        sigemptyset(&terminating)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGQUIT] { sigaddset(&terminating, signal) }
        posix_spawnattr_setsigdefault(&attributes, &terminating)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        for (from, to) in descriptors {
            posix_spawn_file_actions_adddup2(&actions, from, to)
        }
        // After the dup2s, which may read from any descriptor: close every one from 3 up that is
        // not a target (glibc ignores closing one that is not open).
        let targets = Set(descriptors.map(\.to))
        let firstUnused = max(3, (targets.max() ?? 0) + 1)
        for fd in 3..<firstUnused where !targets.contains(fd) {
            posix_spawn_file_actions_addclose(&actions, fd)
        }
        let closing = drover_spawn_file_actions_add_close_from(&actions, firstUnused)
        guard closing == 0 else {
            throw Failure(description: "cannot start '\(executable)': \(String(cString: strerror(closing)))")
        }
        let argv = [executable] + arguments
        let envp = environment.map { "\($0.key)=\($0.value)" }
        let (status, pid) = SpawnThread.shared.run {
            var pid: pid_t = 0
            let status = withCStrings(argv) { argvPointers in
                withCStrings(envp) { envPointers in
                    posix_spawn(&pid, executable, &actions, &attributes, argvPointers, envPointers)
                }
            }
            return (status, pid)
        }
        guard status == 0 else {
            throw Failure(description: "cannot start '\(executable)': \(String(cString: strerror(status)))")
        }
        return pid
    }

    /// Waits for the child to exit and returns its raw wait status.
    @discardableResult
    public static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return status
    }

    /// Sends SIGTERM to `pid` (a child of this process) and reaps it; sends SIGKILL once `grace`
    /// has passed, so that a child that is hung (stopped, deadlocked, ignoring the signal) is no
    /// reason to wait forever. Returns its wait status.
    @discardableResult
    public static func stop(_ pid: pid_t, within grace: Duration) -> Int32 {
        var stopping = Stopping(pid, within: grace)
        while true {
            switch stopping.look() {
            case .reaped(let status): return status
            case .again(let pause): usleep(UInt32(pause.inSeconds * 1e6))
            }
        }
    }

    /// The same as ``stop(_:within:)`` without holding a thread while the child stops: it is
    /// polled every 20 ms with `Task.sleep` (a cancelled caller polls with `usleep`, still within
    /// `grace`), then, after SIGKILL, every 5 ms until it is reaped.
    @discardableResult
    public static func terminate(_ pid: pid_t, within grace: Duration) async -> Int32 {
        var stopping = Stopping(pid, within: grace)
        while true {
            switch stopping.look() {
            case .reaped(let status): return status
            case .again(let pause):
                do { try await Task.sleep(for: pause) } catch { usleep(UInt32(pause.inSeconds * 1e6)) }
            }
        }
    }

    /// A child being stopped (``stop(_:within:)``, ``terminate(_:within:)``): SIGTERM when made,
    /// SIGKILL once `grace` has passed; each look reaps it or says how long to wait before the next.
    private struct Stopping {
        enum Look {
            case reaped(Int32)
            case again(Duration)
        }

        let pid: pid_t
        let deadline: ContinuousClock.Instant
        var killed = false

        init(_ pid: pid_t, within grace: Duration) {
            self.pid = pid
            deadline = .now + grace
            kill(pid, SIGTERM)
        }

        mutating func look() -> Look {
            var status: Int32 = 0
            let reaped = waitpid(pid, &status, WNOHANG)
            // Reaped already (by someone else): nothing left to wait for.
            if reaped == pid || (reaped < 0 && errno == ECHILD) { return .reaped(status) }
            if !killed && ContinuousClock.now >= deadline {
                kill(pid, SIGKILL)
                killed = true
            }
            return .again(.milliseconds(killed ? 5 : 20))
        }
    }

    /// "exited with code 3", "was killed by signal 9 (SIGKILL)".
    public static func describe(status: Int32) -> String {
        let exit = ExitStatus(waitStatus: status)
        if case .signaled = exit { return "was \(exit)" }
        return exit.description
    }
}

/// The thread every child is started from. A child that asks to die with its parent
/// (`PR_SET_PDEATHSIG`) is in fact tied to the *thread* that started it; Swift's concurrency
/// threads come and go, so children are started from this one, which lives as long as the process.
private final class SpawnThread: @unchecked Sendable {
    static let shared = SpawnThread()

    private let condition = NSCondition()
    private var jobs: [() -> Void] = []

    private init() {
        let thread = Thread { [unowned self] in self.loop() }
        thread.name = "drover-spawn"
        thread.start()
    }

    /// Runs `body` on the spawn thread and returns its result.
    func run<Result>(_ body: @escaping () -> Result) -> Result {
        let done = NSCondition()
        var result: Result?
        var finished = false
        condition.lock()
        jobs.append {
            let value = body()
            done.lock()
            result = value
            finished = true
            done.signal()
            done.unlock()
        }
        condition.signal()
        condition.unlock()
        done.lock()
        while !finished { done.wait() }
        done.unlock()
        return result!
    }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let batch = jobs
            jobs = []
            condition.unlock()
            for job in batch { job() }
        }
    }
}

/// Calls `body` with a NULL-terminated C array of the strings.
private func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { for pointer in pointers { free(pointer) } }
    return body(pointers)
}
