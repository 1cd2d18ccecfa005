import Foundation
import Synchronization

/// A real child process for integration tests: started with a pipe on stdout (lines are awaited,
/// never polled) and stderr kept in a file that failures can show; killed on `stop()` or deinit.
public final class ProcessHarness: Sendable {
    public let name: String
    private let process: Process
    private let lines: AsyncStream<String>
    /// Where the process's stderr (its log) goes.
    public let logPath: String

    /// Starts `executable` with `arguments`.
    public init(_ executable: String, _ arguments: [String], name: String) throws {
        self.name = name
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        logPath =
            FileManager.default.temporaryDirectory.appendingPathComponent("drover-\(name)-\(UUID().uuidString).log")
            .path
        FileManager.default.createFile(atPath: logPath, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: logPath)
        process.standardInput = FileHandle.nullDevice
        let (lines, continuation) = AsyncStream.makeStream(of: String.self)
        self.lines = lines
        self.process = process
        try process.run()
        // A thread of its own reads stdout, so neither a full pipe nor the read blocks Swift's pool.
        Thread.detachNewThread {
            var buffer = Data()
            while true {
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                buffer.append(chunk)
                while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    continuation.yield(String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self))
                    buffer.removeSubrange(buffer.startIndex...newline)
                }
            }
            continuation.finish()
        }
    }

    /// The process id.
    public var pid: Int32 { process.processIdentifier }

    /// Whether it still runs.
    public var isRunning: Bool { process.isRunning }

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

    /// Sends a signal.
    public func signal(_ number: Int32) {
        if process.isRunning { kill(process.processIdentifier, number) }
    }

    /// Kills the process and waits for it to exit.
    public func stop() {
        signal(SIGKILL)
        process.waitUntilExit()
    }

    /// The process's stderr so far.
    public func log() -> String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: logPath)
    }
}

public struct HarnessError: Error, CustomStringConvertible {
    public var description: String

    public init(description: String) {
        self.description = description
    }
}
