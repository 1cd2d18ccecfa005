public import Foundation

/// Starts programs with `posix_spawn`: no Foundation `Process` (whose `waitUntilExit` can spin
/// forever on Linux when called off the main thread), and exact control of the child's descriptors.
public enum Spawn {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Starts `executable` with `arguments`; each `(from, to)` in `descriptors` makes the parent's
    /// descriptor `from` the child's descriptor `to`. Every other descriptor of the parent must be
    /// close-on-exec.
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
        for (from, to) in descriptors {
            posix_spawn_file_actions_adddup2(&actions, from, to)
        }
        let argv = [executable] + arguments
        let envp = environment.map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let status = withCStrings(argv) { argvPointers in
            withCStrings(envp) { envPointers in
                posix_spawn(&pid, executable, &actions, nil, argvPointers, envPointers)
            }
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

    /// "exited with code 3", "was killed by signal 9 (SIGKILL)".
    public static func describe(status: Int32) -> String {
        let signal = status & 0x7F
        if signal == 0 {
            return "exited with code \((status >> 8) & 0xFF)"
        }
        let names: [Int32: String] = [
            SIGKILL: "SIGKILL", SIGSEGV: "SIGSEGV", SIGABRT: "SIGABRT", SIGTERM: "SIGTERM", SIGBUS: "SIGBUS",
            SIGILL: "SIGILL", SIGTRAP: "SIGTRAP", SIGFPE: "SIGFPE", SIGINT: "SIGINT",
        ]
        return "was killed by signal \(signal)\(names[signal].map { " (\($0))" } ?? "")"
    }
}

/// Calls `body` with a NULL-terminated C array of the strings.
private func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { for pointer in pointers { free(pointer) } }
    return body(pointers)
}
