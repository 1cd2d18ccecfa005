import DroverLocal
import Foundation
import Synchronization

/// A real child process for integration tests: started with a pipe on stdout (lines are awaited,
/// never polled) and stderr kept in a file that failures can show; killed on `stop()` or deinit.
public final class ProcessHarness: Sendable {
    public let name: String
    /// The process id.
    public let pid: Int32
    private let lines: AsyncStream<String>
    private let exited = Mutex(false)
    /// Where the process's stderr (its log) goes.
    public let logPath: String

    /// Starts `executable` with `arguments`, in `environment` (by default this process's).
    public init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, name: String) throws
    {
        self.name = name
        logPath =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("drover-\(name)-\(UUID().uuidString).log").path
        let log = open(logPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
        var pipeFDs: [Int32] = [-1, -1]
        guard log >= 0, null >= 0, pipe(&pipeFDs) == 0 else {
            throw HarnessError(description: "cannot set up the descriptors of \(name)")
        }
        for fd in pipeFDs { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        defer {
            close(log)
            close(null)
            close(pipeFDs[1])
        }
        pid = try Spawn.start(
            executable, arguments: arguments, environment: environment ?? ProcessInfo.processInfo.environment,
            descriptors: [(null, 0), (pipeFDs[1], 1), (log, 2)]
        )
        self.lines = Self.lines(of: pipeFDs[0])
    }

    /// The lines written to `fd`, read on a thread of its own until end of file (then `fd` is
    /// closed), so that neither a full pipe nor the read blocks Swift's pool.
    public static func lines(of fd: Int32) -> AsyncStream<String> {
        let (lines, continuation) = AsyncStream.makeStream(of: String.self)
        Thread.detachNewThread {
            var buffer = [UInt8]()
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = read(fd, &chunk, chunk.count)
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { break }
                buffer.append(contentsOf: chunk[0..<count])
                while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    continuation.yield(String(decoding: buffer[..<newline], as: UTF8.self))
                    buffer.removeSubrange(...newline)
                }
            }
            close(fd)
            continuation.finish()
        }
        return lines
    }

    /// Waits for the first stdout line starting with `prefix` and returns the rest of it.
    ///
    /// - Throws: when the process closes stdout (exits) first; the error carries its log.
    public func line(startingWith prefix: String) async throws -> String {
        for await line in lines where line.hasPrefix(prefix) {
            return String(line.dropFirst(prefix.count))
        }
        throw HarnessError(description: "\(name) ended before printing '\(prefix)…'. Its log:\n\(log())")
    }

    /// Waits for `LISTENING <address>` and returns the address.
    public func listeningAddress() async throws -> String {
        try await line(startingWith: "LISTENING ")
    }

    /// Whether the process has been reaped (by ``stop()`` or ``terminate(timeout:)``).
    public var hasExited: Bool { exited.withLock { $0 } }

    /// Sends a signal (while the process has not been reaped, so the pid is still ours).
    public func signal(_ number: Int32) {
        exited.withLock { exited in
            if !exited { kill(pid, number) }
        }
    }

    /// Kills the process and reaps it.
    public func stop() {
        exited.withLock { exited in
            guard !exited else { return }
            kill(pid, SIGKILL)
            Spawn.wait(pid)
            exited = true
        }
    }

    /// Sends SIGTERM and waits for the process to exit, up to `timeout`, then kills it.
    ///
    /// - Returns: Its wait status, and whether it exited by itself within the timeout.
    @discardableResult
    public func terminate(timeout: Duration = .seconds(20)) async -> (status: Int32, graceful: Bool) {
        signal(SIGTERM)
        if let status = await exit(within: timeout) { return (status, true) }
        stop()
        return (Int32(SIGKILL), false)
    }

    /// Waits for the process to exit by itself, up to `timeout`, and reaps it.
    ///
    /// - Returns: Its wait status (0 when it was reaped before), or nil if it still runs.
    public func exit(within timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while true {
            let reaped: Int32? = exited.withLock { exited in
                guard !exited else { return 0 }
                var status: Int32 = 0
                guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
                exited = true
                return status
            }
            if let reaped { return reaped }
            guard ContinuousClock.now < deadline else { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// The process's stderr so far.
    public func log() -> String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: logPath)
    }
}

public struct HarnessError: Error, CustomStringConvertible {
    public var description: String

    public init(description: String) {
        self.description = description
    }
}
