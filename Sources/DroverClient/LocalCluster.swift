import DroverCore
import DroverLocal
public import DroverProto
import Foundation
import Synchronization

/// A scheduler and a nanny with its workers, started as child processes of this program on
/// loopback, like Dask's `LocalCluster`. The program serves the roles it is started in by calling
/// `await DroverCommand.bootstrap(registry)` first thing in `main` (or is a `drover` binary); its
/// children exit with it. A program that does not is reported by the error thrown here, after its
/// first two children, not by thousands of processes (``ChildRole``).
/// ``Client/local(workers:threadsPerWorker:memoryLimit:insecurePlaintext:transport:)`` returns a client that
/// owns one. Each worker runs in a cgroup with its share of the host's memory (or the limit given),
/// and the nanny restarts workers that die.
///
/// Every connection is mutual TLS with a throwaway CA (``Security/temporary()``) unless
/// `insecurePlaintext` says otherwise; ``security`` is what a client needs to connect.
public final class LocalCluster: Sendable {
    /// How the cluster's own processes and the client of ``Client/local`` reach the scheduler,
    /// like Dask's `LocalCluster(protocol=)`.
    public enum Transport: String, Sendable, CaseIterable {
        /// A Unix-domain socket in a directory only this user can enter (``unixAddress``): a
        /// shorter round trip than TCP.
        case unix
        /// TCP on loopback (``address``).
        case tcp
    }

    /// The scheduler's TCP address, which any process may dial (other languages' gRPC clients too).
    public let address: String
    /// The scheduler's Unix socket (`unix:PATH`) with the ``Transport/unix`` transport: what the
    /// nanny, its workers and ``Client/local``'s client dial. Only this user can reach it.
    public let unixAddress: String?
    /// ``unixAddress``, or else ``address``: where this host's processes connect.
    public var preferredAddress: String { unixAddress ?? address }
    /// The scheduler's dashboard (`http://127.0.0.1:8787/status`, or another port when 8787 is
    /// taken); nil when it serves none.
    public let dashboardURL: String?
    /// The scheduler's process.
    public let schedulerPID: Int32
    /// The nanny's process and address (its `Status` service lists the workers).
    public let nannyPID: Int32
    public let nannyAddress: String
    /// Where the processes' logs go (`scheduler.log`, `nanny.log`, which holds the workers' logs).
    public let logDirectory: String
    /// The client's TLS settings (its certificate from the cluster's throwaway CA), or
    /// ``Security/insecurePlaintext``.
    public let security: Security
    private let children: Mutex<[pid_t]>
    /// The private directory of the scheduler's Unix socket.
    private let socketDirectory: PrivateDirectory?

    /// Starts a scheduler and a nanny with `workers` workers of `threadsPerWorker` threads each.
    ///
    /// - Parameters:
    ///   - memoryLimit: Each worker's limit as `drover nanny --memory-limit` takes it:
    ///     "auto" (the host's limit ÷ workers), "300MiB", "0.25", or "0" for none.
    ///   - dashboard: Whether the scheduler serves its dashboard (on 8787, or any free port when
    ///     that is taken, as Dask's `LocalCluster`).
    ///   - insecurePlaintext: Give up encryption and authentication: any local user who can reach
    ///     the ports may then submit tasks, read and overwrite results.
    ///   - transport: How the nanny, its workers and ``Client/local``'s client reach the
    ///     scheduler: a Unix socket (the default) or TCP. The TCP port is open either way.
    public init(
        workers: Int,
        threadsPerWorker: Int,
        memoryLimit: String = "auto",
        dashboard: Bool = true,
        executable: String? = nil,
        insecurePlaintext: Bool = false,
        transport: Transport = .unix
    ) async throws {
        ChildRole.refuseUnplayedRole(starting: "a local cluster")
        let executable = executable ?? ProcessPool.currentExecutablePath
        let logs = FileManager.default.temporaryDirectory.appendingPathComponent("drover-local-\(getpid())").path
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        self.logDirectory = logs
        let security = insecurePlaintext ? Security.insecurePlaintext : try Security.temporary()
        self.security = security
        let certificates = security.certificateDirectory
        // A directory only this user can enter holds the scheduler's Unix socket (ones that killed
        // programs left behind are swept when a cluster closes, off the start's path).
        let socketDirectory: PrivateDirectory?
        let unixSocket: String?
        if transport == .unix {
            let directory = try PrivateDirectory(prefix: Self.socketDirectoryPrefix)
            let path = directory.path + "/" + Self.socketName
            // A temporary directory too deep for a socket address: TCP it is.
            let fits = HostAndPort(schedulerAddress: "unix:" + path) != nil
            if !fits { directory.remove() }
            socketDirectory = fits ? directory : nil
            unixSocket = fits ? path : nil
        } else {
            socketDirectory = nil
            unixSocket = nil
        }
        self.socketDirectory = socketDirectory
        self.unixAddress = unixSocket.map { "unix:" + $0 }
        var pids: [pid_t] = []
        do {
            // The nanny loads while the scheduler starts; it reads the scheduler's address on stdin.
            let scheduler = try Self.launch(
                executable,
                ["scheduler", "--port", "0"] + (dashboard ? [] : ["--no-dashboard"])
                    + (unixSocket.map { ["--unix-socket", $0] } ?? [])
                    + (certificates?.security(for: .scheduler).arguments ?? []),
                log: logs + "/scheduler.log")
            pids.append(scheduler.pid)
            let nanny = try Self.launch(
                executable,
                [
                    "nanny", "-", "--nworkers", String(workers), "--nthreads", String(threadsPerWorker),
                    "--memory-limit", memoryLimit, "--name", "local", "--drain-timeout", "3",
                ] + (certificates?.security(for: .nanny).arguments ?? []),
                log: logs + "/nanny.log", withInput: true
            )
            pids.append(nanny.pid)
            let address: String
            do {
                address = try await scheduler.listeningAddress()
            } catch {
                nanny.closeInput()
                throw error
            }
            _ = nanny.send((unixAddress ?? address) + "\n")
            nanny.closeInput()
            self.nannyAddress = try await nanny.listeningAddress()
            self.address = address
            self.dashboardURL = await scheduler.linesBeforeListening().first { $0.hasPrefix("DASHBOARD ") }
                .map { String($0.dropFirst("DASHBOARD ".count)) }
            self.schedulerPID = scheduler.pid
            self.nannyPID = nanny.pid
            self.children = Mutex(pids)
        } catch {
            for pid in pids.reversed() {
                kill(pid, SIGKILL)
                Spawn.wait(pid)
            }
            if let certificates { try? FileManager.default.removeItem(atPath: certificates.path) }
            socketDirectory?.remove()
            throw error
        }
    }

    /// How long `close()` gives each process to stop after SIGTERM before it sends SIGKILL: the
    /// nanny's drain (its workers retire, SIGKILL after its 10 s `--drain-timeout`) and a margin.
    public static let closeGrace = Duration.seconds(15)

    /// Stops every process of the cluster: the nanny first (its workers retire), then the
    /// scheduler. A process still there `grace` after SIGTERM (hung, or stopped) gets SIGKILL
    /// (the nanny's workers die with it), so closing never waits forever.
    public func close(within grace: Duration = closeGrace) {
        let pids = takeChildren()
        for pid in pids.reversed() {
            Spawn.stop(pid, within: grace)
        }
        removeFiles(if: !pids.isEmpty)
    }

    /// The same as ``close(within:)`` without holding a thread of the caller's while the
    /// processes stop (the nanny's drain takes up to its 3 s here): what an async caller, such as
    /// ``Client/close()``, uses.
    public func stop(within grace: Duration = closeGrace) async {
        let pids = takeChildren()
        for pid in pids.reversed() {
            await Spawn.terminate(pid, within: grace)
        }
        removeFiles(if: !pids.isEmpty)
    }

    private func takeChildren() -> [pid_t] {
        children.withLock { pids in
            defer { pids = [] }
            return pids
        }
    }

    /// The throwaway CA and the socket's directory go with the cluster (its processes have
    /// stopped reading them), once, by whoever stopped it; so do socket directories that clusters
    /// of killed programs left (a scan of the temporary directory: ~8 ms with 19,000 entries).
    private func removeFiles(if stopped: Bool) {
        guard stopped else { return }
        if let certificates = security.certificateDirectory {
            try? FileManager.default.removeItem(atPath: certificates.path)
        }
        if let socketDirectory {
            socketDirectory.remove()
            PrivateDirectory.removeAbandoned(prefix: Self.socketDirectoryPrefix, socketName: Self.socketName)
        }
    }

    /// Not `drover-local`: the log directories are `drover-local-<pid>`, and a six-digit pid
    /// would look like a socket directory to ``PrivateDirectory/removeAbandoned(prefix:socketName:minimumAgeSeconds:)``.
    static let socketDirectoryPrefix = "drover-local-socket"
    static let socketName = "scheduler.sock"

    deinit {
        close()
    }

    /// Starts one role with its stderr in `log`; it prints `LISTENING <address>` when ready.
    private static func launch(_ executable: String, _ arguments: [String], log: String, withInput: Bool = false)
        throws -> ListeningProcess
    {
        let logFD = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        defer { if logFD >= 0 { Glibc.close(logFD) } }
        var environment = ProcessInfo.processInfo.environment
        environment[Drover.exitWithParentVariable] = Drover.exitWithParentValue
        return try ListeningProcess.launch(
            executable, arguments: arguments, environment: environment, stderr: logFD >= 0 ? logFD : nil,
            withInput: withInput)
    }
}

extension Client {
    /// Starts a ``LocalCluster`` and returns a client that owns it, like `Client()` in Dask: the
    /// cluster lives while the client does (a future keeps its client), ``close()`` stops both,
    /// and ``cluster`` is the cluster.
    ///
    /// Connections are mutual TLS with a throwaway CA unless `insecurePlaintext` gives that up
    /// (then any local user who can reach the ports may use the cluster).
    public static func local(
        workers: Int = 4, threadsPerWorker: Int = 2, memoryLimit: String = "auto", insecurePlaintext: Bool = false,
        transport: LocalCluster.Transport = .unix
    ) async throws -> Client {
        let cluster = try await LocalCluster(
            workers: workers, threadsPerWorker: threadsPerWorker, memoryLimit: memoryLimit,
            insecurePlaintext: insecurePlaintext, transport: transport)
        let client = try await Client.connect(cluster.preferredAddress, security: cluster.security)
        client.ownedCluster.withLock { $0 = cluster }
        do {
            try await client.waitForWorkers(workers)
        } catch {
            await client.close()
            throw error
        }
        return client
    }

    /// The same as ``local(workers:threadsPerWorker:memoryLimit:insecurePlaintext:transport:)``, with its cluster beside it;
    /// the client owns the cluster all the same, so `let (client, _) = …` keeps it running.
    @_disfavoredOverload
    public static func local(
        workers: Int = 4, threadsPerWorker: Int = 2, memoryLimit: String = "auto", insecurePlaintext: Bool = false,
        transport: LocalCluster.Transport = .unix
    ) async throws -> (Client, LocalCluster) {
        let client: Client = try await local(
            workers: workers, threadsPerWorker: threadsPerWorker, memoryLimit: memoryLimit,
            insecurePlaintext: insecurePlaintext, transport: transport)
        return (client, client.cluster!)
    }

    /// The cluster this client started and owns, nil for a client that connected to one.
    public var cluster: LocalCluster? { ownedCluster.withLock { $0 } }
}
