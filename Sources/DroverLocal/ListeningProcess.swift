public import Foundation

/// A `drover` role started as a child process: it prints `LISTENING <address>` on stdout once it
/// accepts connections (`drover scheduler`, `drover worker`, `drover nanny`).
public enum ListeningProcess {
    /// Starts `executable` with `arguments` and waits for its `LISTENING` line. Its stderr goes to
    /// `stderr` (a descriptor, kept open by the caller), or is inherited when nil. Its stdout is
    /// drained for as long as it runs, so it never blocks on a full pipe.
    ///
    /// - Returns: The pid (reap it with ``Spawn/wait(_:)``) and the address it printed.
    public static func start(
        _ executable: String,
        arguments: [String],
        environment: [String: String] = ProcessInfo.processInfo.environment,
        stderr: Int32? = nil
    ) async throws -> (pid: pid_t, address: String) {
        var pipeFDs: [Int32] = [-1, -1]
        guard pipe(&pipeFDs) == 0 else {
            throw Spawn.Failure(description: "pipe failed: \(String(cString: strerror(errno)))")
        }
        for fd in pipeFDs { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var descriptors: [(from: Int32, to: Int32)] = [(pipeFDs[1], 1)]
        if let stderr { descriptors.append((stderr, 2)) }
        let pid: pid_t
        do {
            pid = try Spawn.start(executable, arguments: arguments, environment: environment, descriptors: descriptors)
        } catch {
            close(pipeFDs[0])
            close(pipeFDs[1])
            throw error
        }
        close(pipeFDs[1])
        let readEnd = pipeFDs[0]
        let line: String? = await withCheckedContinuation { continuation in
            // Read on a thread of our own: the read blocks until the child prints or exits.
            Thread.detachNewThread {
                var bytes: [UInt8] = []
                var byte: UInt8 = 0
                var resumed = false
                while read(readEnd, &byte, 1) == 1 {
                    guard !resumed else { continue }
                    guard byte == UInt8(ascii: "\n") else {
                        bytes.append(byte)
                        continue
                    }
                    let text = String(decoding: bytes, as: UTF8.self)
                    bytes = []
                    if text.hasPrefix("LISTENING ") {
                        continuation.resume(returning: String(text.dropFirst("LISTENING ".count)))
                        resumed = true
                    }
                }
                close(readEnd)
                if !resumed { continuation.resume(returning: nil) }
            }
        }
        guard let line else {
            let status = Spawn.wait(pid)
            throw Spawn.Failure(
                description:
                    "'\(executable) \(arguments.joined(separator: " "))' \(Spawn.describe(status: status)) before listening."
            )
        }
        return (pid, line)
    }
}
