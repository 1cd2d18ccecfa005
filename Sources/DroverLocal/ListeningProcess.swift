public import Foundation
import Synchronization

/// A `drover` role started as a child process: it prints `LISTENING <address>` on stdout once it
/// accepts connections (`drover scheduler`, `drover worker`, `drover nanny`), after any other
/// announcements (`DASHBOARD <url>`).
public final class ListeningProcess: Sendable {
    /// The child's pid; reaped by ``listeningAddress()`` when the child ends without listening,
    /// otherwise the caller's to reap with ``Spawn/wait(_:)``.
    public let pid: pid_t
    private let command: String
    /// The role it was started to play (its first argument: `scheduler`, `nanny`, `worker`).
    private let role: String
    /// The write end of the child's stdin, when it was given one.
    private let input: Mutex<Int32>
    /// The address from the `LISTENING` line, and the lines before it.
    private let line: Task<(address: String, earlier: [String])?, Never>

    private init(
        pid: pid_t, command: String, role: String, input: Int32,
        line: Task<(address: String, earlier: [String])?, Never>
    ) {
        self.pid = pid
        self.command = command
        self.role = role
        self.input = Mutex(input)
        self.line = line
    }

    /// Starts `executable` with `arguments`; its stderr goes to `stderr` (a descriptor the caller
    /// keeps open) or is inherited when nil. Its stdout is read on a thread of its own for as long
    /// as it runs, so it never blocks on a full pipe. With `withInput`, its stdin is a pipe that
    /// ``send(_:)`` writes to; otherwise it is inherited.
    ///
    /// The child's environment names its role (``ChildRole``): a program that runs its own `main`
    /// again instead of that role exits before starting processes, and ``listeningAddress()``
    /// says what to fix. A process that was itself started for a role it has not turned into
    /// exits here instead of starting anything.
    public static func launch(
        _ executable: String,
        arguments: [String],
        environment: [String: String] = ProcessInfo.processInfo.environment,
        stderr: Int32? = nil,
        withInput: Bool = false
    ) throws -> ListeningProcess {
        let role = arguments.first ?? "child"
        ChildRole.refuseUnplayedRole(starting: "its own '\(role)' process")
        var environment = environment
        ChildRole.mark(&environment, role: role)
        let output = try pipePair()
        var descriptors: [(from: Int32, to: Int32)] = [(output.write, 1)]
        if let stderr { descriptors.append((stderr, 2)) }
        var input: (read: Int32, write: Int32)?
        do {
            if withInput {
                input = try pipePair()
                descriptors.append((input!.read, 0))
            }
        } catch {
            close(output.read)
            close(output.write)
            throw error
        }
        let pid: pid_t
        do {
            pid = try Spawn.start(executable, arguments: arguments, environment: environment, descriptors: descriptors)
        } catch {
            for fd in [output.read, output.write, input?.read ?? -1, input?.write ?? -1] where fd >= 0 { close(fd) }
            throw error
        }
        close(output.write)
        if let input { close(input.read) }
        let readEnd = output.read
        let line = Task<(address: String, earlier: [String])?, Never> {
            await withCheckedContinuation { continuation in
                Thread.detachNewThread {
                    var bytes: [UInt8] = []
                    var byte: UInt8 = 0
                    var resumed = false
                    var earlier: [String] = []
                    while read(readEnd, &byte, 1) == 1 {
                        guard !resumed else { continue }
                        guard byte == UInt8(ascii: "\n") else {
                            bytes.append(byte)
                            continue
                        }
                        let text = String(decoding: bytes, as: UTF8.self)
                        bytes = []
                        if text.hasPrefix("LISTENING ") {
                            continuation.resume(returning: (String(text.dropFirst("LISTENING ".count)), earlier))
                            resumed = true
                        } else if earlier.count < 100 {
                            earlier.append(text)
                        }
                    }
                    close(readEnd)
                    if !resumed { continuation.resume(returning: nil) }
                }
            }
        }
        return ListeningProcess(
            pid: pid, command: "'\(executable) \(arguments.joined(separator: " "))'", role: role,
            input: input?.write ?? -1, line: line)
    }

    /// Starts the process and waits for its `LISTENING` line.
    ///
    /// - Returns: The pid (reap it with ``Spawn/wait(_:)``) and the address it printed.
    public static func start(
        _ executable: String,
        arguments: [String],
        environment: [String: String] = ProcessInfo.processInfo.environment,
        stderr: Int32? = nil
    ) async throws -> (pid: pid_t, address: String) {
        let process = try launch(executable, arguments: arguments, environment: environment, stderr: stderr)
        return (process.pid, try await process.listeningAddress())
    }

    /// Waits for the `LISTENING <address>` line and returns the address; a process that ends
    /// first is reaped and reported.
    public func listeningAddress() async throws -> String {
        if let address = await line.value?.address { return address }
        closeInput()
        let status = Spawn.wait(pid)
        if ChildRole.ranMainAgain(status: status) {
            let what: String =
                "\(command) (pid \(pid)) ran the program's main again instead of serving as the \(role) "
                + "(it exited with code \(ChildRole.exitCode) before starting processes of its own)"
            throw Spawn.Failure(description: what + ": \(ChildRole.remedy).", ranMainAgain: true)
        }
        throw Spawn.Failure(description: "\(command) \(Spawn.describe(status: status)) before listening.")
    }

    /// The lines the child printed before its `LISTENING` line (such as `DASHBOARD <url>`), once
    /// it printed that line; empty when it ended without.
    public func linesBeforeListening() async -> [String] {
        await line.value?.earlier ?? []
    }

    /// Writes `text` to the child's stdin; false when it has none or the write failed.
    public func send(_ text: String) -> Bool {
        input.withLock { fd in
            guard fd >= 0 else { return false }
            var bytes = Array(text.utf8)[...]
            while !bytes.isEmpty {
                let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return false }
                bytes = bytes.dropFirst(written)
            }
            return true
        }
    }

    /// Closes the child's stdin (it reads end of file).
    public func closeInput() {
        input.withLock { fd in
            if fd >= 0 { close(fd) }
            fd = -1
        }
    }

    private static func pipePair() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else {
            throw Spawn.Failure(description: "pipe failed: \(String(cString: strerror(errno)))")
        }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return (fds[0], fds[1])
    }
}
