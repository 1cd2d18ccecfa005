public import DroverCore
import DroverLocal
import Foundation
import Synchronization

/// A scheduler and workers started as child processes of this program, on loopback, like Dask's
/// `LocalCluster`. The program must be a `drover` binary (`DroverCommand.main(registry:)`), so
/// that `scheduler` and `worker` are its subcommands; its children exit with it.
public final class LocalCluster: Sendable {
    /// The scheduler's address.
    public let address: String
    /// The scheduler's process.
    public let schedulerPID: Int32
    /// Where the processes' logs go (`scheduler.log`, `worker-N.log`).
    public let logDirectory: String
    private let children: Mutex<[pid_t]>

    /// Tells a child `drover` process to die with its parent (read by `DroverCommand.main`).
    public static let exitWithParentVariable = "DROVER_EXIT_WITH_PARENT"

    /// Starts a scheduler and `workers` workers of `threadsPerWorker` threads each, and waits until
    /// every worker has registered.
    public init(
        workers: Int,
        threadsPerWorker: Int,
        executable: String? = nil
    ) async throws {
        let executable = executable ?? ProcessPool.currentExecutablePath
        let logs = FileManager.default.temporaryDirectory.appendingPathComponent("drover-local-\(getpid())").path
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        self.logDirectory = logs
        var pids: [pid_t] = []
        do {
            let (schedulerPID, address) = try await Self.start(
                executable, ["scheduler", "--port", "0"], log: logs + "/scheduler.log"
            )
            pids.append(schedulerPID)
            // Workers start side by side: each waits only for its own LISTENING line.
            let started = await withTaskGroup(of: Result<pid_t, any Error>.self) { group in
                for number in 0..<workers {
                    group.addTask {
                        do {
                            return .success(
                                try await Self.start(
                                    executable,
                                    [
                                        "worker", address, "--nthreads", String(threadsPerWorker), "--name",
                                        "local-\(number)",
                                    ],
                                    log: logs + "/worker-\(number).log"
                                ).0)
                        } catch {
                            return .failure(error)
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            pids += started.compactMap { try? $0.get() }
            for outcome in started { _ = try outcome.get() }
            self.address = address
            self.schedulerPID = schedulerPID
            self.children = Mutex(pids)
        } catch {
            for pid in pids {
                kill(pid, SIGKILL)
                Spawn.wait(pid)
            }
            throw error
        }
    }

    /// Stops every process of the cluster.
    public func close() {
        let pids = children.withLock { pids in
            defer { pids = [] }
            return pids
        }
        for pid in pids.reversed() { kill(pid, SIGTERM) }
        for pid in pids.reversed() { Spawn.wait(pid) }
    }

    deinit {
        close()
    }

    /// Starts one role and waits for its `LISTENING <address>` line.
    private static func start(_ executable: String, _ arguments: [String], log: String) async throws -> (pid_t, String)
    {
        var pipeFDs: [Int32] = [-1, -1]
        guard pipe(&pipeFDs) == 0 else {
            throw ClientError(message: "pipe failed: \(String(cString: strerror(errno)))")
        }
        let logFD = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        defer { if logFD >= 0 { Glibc.close(logFD) } }
        for fd in pipeFDs { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var environment = ProcessInfo.processInfo.environment
        environment[exitWithParentVariable] = "1"
        let pid: pid_t
        do {
            pid = try Spawn.start(
                executable, arguments: arguments, environment: environment,
                descriptors: logFD >= 0 ? [(pipeFDs[1], Int32(1)), (logFD, Int32(2))] : [(pipeFDs[1], Int32(1))])
        } catch {
            Glibc.close(pipeFDs[0])
            Glibc.close(pipeFDs[1])
            throw error
        }
        Glibc.close(pipeFDs[1])
        let readEnd = pipeFDs[0]
        let line: String? = await withCheckedContinuation { continuation in
            // Read on a thread of our own: the read blocks until the child prints or exits.
            Thread.detachNewThread {
                var bytes: [UInt8] = []
                var byte: UInt8 = 0
                while read(readEnd, &byte, 1) == 1 {
                    if byte == UInt8(ascii: "\n") {
                        let text = String(decoding: bytes, as: UTF8.self)
                        if text.hasPrefix("LISTENING ") {
                            continuation.resume(returning: String(text.dropFirst("LISTENING ".count)))
                            // Keep draining so the child never blocks on a full pipe.
                            while read(readEnd, &byte, 1) == 1 {}
                            Glibc.close(readEnd)
                            return
                        }
                        bytes = []
                    } else {
                        bytes.append(byte)
                    }
                }
                Glibc.close(readEnd)
                continuation.resume(returning: nil)
            }
        }
        guard let line else {
            let status = Spawn.wait(pid)
            throw ClientError(
                message:
                    "'\(executable) \(arguments.joined(separator: " "))' \(Spawn.describe(status: status)) before listening."
            )
        }
        return (pid, line)
    }
}

extension Client {
    /// Starts a ``LocalCluster`` and connects to it; the cluster stops when the client closes.
    public static func local(workers: Int = 4, threadsPerWorker: Int = 2) async throws -> (Client, LocalCluster) {
        let cluster = try await LocalCluster(workers: workers, threadsPerWorker: threadsPerWorker)
        let client = try await Client.connect(cluster.address)
        try await client.waitForWorkers(workers)
        return (client, cluster)
    }

    /// Computes a lazy value on the cluster.
    public func compute<Value: TaskValue>(_ delayed: Delayed<Value>) async throws -> Value {
        try await submit(delayed).result()
    }
}
