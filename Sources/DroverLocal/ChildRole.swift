import DroverCore
import Foundation

/// The role a child process was started to play, carried in its environment, so that a program
/// that runs its own `main` again instead of playing it stops before it starts processes of its own.
///
/// The processes scheduler re-executes the program as a task process, and ``ListeningProcess``
/// re-executes it as a `drover` role (a local cluster's `scheduler` and `nanny`, a nanny's
/// `worker`s). The copy must turn into that role first thing: ``Drover/bootstrap(_:)`` does it for
/// a task process, `DroverCommand.main(registry:)` for the `drover` roles, and both clear the mark.
/// A program that skips them runs its `main` again, which starts a pool or a cluster of its own
/// whose children do the same: thousands of processes in seconds. So every place that starts
/// children first calls ``refuseUnplayedRole(starting:)``: a process that still carries the mark
/// writes one line to stderr and exits with ``exitCode``, and its parent, which sees that code,
/// reports what the program must call.
public enum ChildRole {
    /// The environment variable: `<role> <parent pid>`, such as `scheduler 4242`.
    public static let variable = "DROVER_CHILD_ROLE"
    /// The exit code of a child that ran the program's `main` again instead of its role.
    public static let exitCode: Int32 = 86
    /// The role of a worker process of the processes scheduler.
    static let taskProcess = "task-process"
    /// The roles of the `drover` command line a Drover parent starts: a local cluster's scheduler
    /// and nanny, and a nanny's workers. `DroverCommand.bootstrap(registry)` serves them.
    public static let commandRoles: Set<String> = ["scheduler", "nanny", "worker"]

    /// The role this process was started to play (``commandRoles`` or a task process), nil when
    /// Drover did not start it or it already plays its role.
    public static var current: String? {
        guard let mark = getenv(variable) else { return nil }
        return String(cString: mark).split(separator: " ").first.map(String.init)
    }

    /// What a program's `main` must call first thing to serve every role: a sentence for messages.
    public static let remedy =
        "call `await DroverCommand.bootstrap(registry)` (module DroverCLI) first thing in main: it serves "
        + "every role Drover starts the program in"

    /// Marks `environment`, the environment of a child about to start, with `role`.
    static func mark(_ environment: inout [String: String], role: String) {
        environment[variable] = "\(role) \(getpid())"
    }

    /// Removes the mark from this process's environment: it now plays its role, and the children
    /// that role starts (a nanny's workers, a task's own pools) are legitimate.
    public static func clear() {
        unsetenv(variable)
    }

    /// Exits with code ``exitCode`` when this process was started to play a role and has not
    /// turned into it (its program ran `main` again); returns at once otherwise.
    ///
    /// - Parameter what: What this process was about to start, for the line on stderr.
    public static func refuseUnplayedRole(starting what: @autoclosure () -> String) {
        guard let mark = getenv(variable).map({ String(cString: $0) }) else { return }
        let parts = mark.split(separator: " ")
        let role = parts.first.map(String.init) ?? "child"
        let parent = parts.dropFirst().first.map { "pid \($0)" } ?? "its parent"
        let line =
            "drover: process \(getpid()) was started by \(parent) to serve as its \(role), but ran the program's main "
            + "again and was about to start \(what()); it exits with code \(exitCode) instead, so that the "
            + "processes do not multiply; \(remedy).\n"
        FileHandle.standardError.write(Data(line.utf8))
        // _exit: other threads of the copied main may be running; nothing of it should be flushed.
        _exit(exitCode)
    }

    /// Whether `status` (a raw wait status) is the exit of a child that refused to recurse.
    static func ranMainAgain(status: Int32) -> Bool {
        ExitStatus(waitStatus: status) == .exited(code: exitCode)
    }
}
