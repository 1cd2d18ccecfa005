import ArgumentParser
import DroverCore
import DroverLocal
import DroverNanny
import DroverProto
import DroverSystemd
import Foundation
import Logging

/// `drover nanny`: starts and supervises this host's workers.
struct NannyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nanny",
        abstract: "Start workers for the scheduler at ADDRESS, each in a cgroup with its memory limit; "
            + "restart them when they die. Prints 'LISTENING <host:port>' once every worker has started."
    )

    @Argument(help: "The scheduler's host:port, or - to read it from the first line of stdin.")
    var scheduler: String

    @OptionGroup var workers: NannyOptions

    func run() async throws {
        DroverLogging.bootstrap(component: .nanny)
        // "-": started beside a scheduler that is still starting (LocalCluster), so the process
        // loads meanwhile.
        guard scheduler == "-" else { return try await workers.run(scheduler: scheduler) }
        guard let line = readLine(), !line.isEmpty else {
            throw ValidationError("no scheduler address on stdin")
        }
        try await workers.run(scheduler: line)
    }
}

/// What `drover nanny` and `drover worker` (which uses a nanny by default) share.
struct NannyOptions: ParsableArguments {
    @Option(help: "Worker processes to start.")
    var nworkers = 1

    @Option(help: "Tasks each worker runs at once.")
    var nthreads = 1

    @Option(
        help: ArgumentHelp(
            "Each worker's memory limit: 4GiB, 500MB, a fraction of the host's limit (0.25), 'auto' "
                + "(the host's limit ÷ nworkers) or 0 for none.",
            discussion: "The host's limit is the least of its RAM and the memory limits of this process's cgroups."))
    var memoryLimit = "auto"

    @Option(help: "Address the workers and the nanny serve on.")
    var host = "127.0.0.1"

    @Option(help: "The first worker's port; the others count up from it (0: any free port).")
    var workerPort = 0

    @Option(help: "The nanny's own port, for its Status service (0: any free port).")
    var nannyPort = 0

    @Option(help: "Where workers spill results to disk (default: the system's temporary directory).")
    var localDirectory: String?

    @Option(help: "Workers are named <name>-0, <name>-1, … (default: <hostname>-<pid>).")
    var name: String?

    @Option(help: "Seconds retiring workers get on SIGTERM before they are killed.")
    var drainTimeout: Double = 10

    @Flag(
        inversion: .prefixedNo,
        help: "Keep one worker process started ahead of need, so a replacement costs no process start.")
    var standby = true

    @Option(help: "Log level: trace, debug, info, warning, error.")
    var logLevel = "info"

    @OptionGroup(title: "TLS") var tls: TLSOptions

    func validate() throws {
        guard nworkers >= 1 else { throw ValidationError("--nworkers must be at least 1.") }
        guard nthreads >= 1 else { throw ValidationError("--nthreads must be at least 1.") }
        guard drainTimeout >= 0 else { throw ValidationError("--drain-timeout must not be negative.") }
    }

    func run(scheduler: String) async throws {
        let (security, endpoint) = try tls.scheduler(scheduler)
        try await Self.runNanny(
            scheduler: endpoint, workers: nworkers, threads: nthreads, memoryLimit: memoryLimit, host: host,
            workerPort: workerPort, nannyPort: nannyPort, localDirectory: localDirectory, name: name,
            drainTimeout: drainTimeout, standby: standby, logLevel: logLevel, security: security)
    }

    /// Each worker's limit in bytes (nil: none), or an error naming the option before anything starts.
    static func resolveMemoryLimit(_ text: String, workers: Int) throws -> Int64? {
        let host = try HostMemory.limit()
        do {
            return try MemoryLimit.parse(text).resolve(hostLimit: host.bytes, workers: workers)
        } catch {
            throw ValidationError("--memory-limit: \(error) (the host's limit comes from \(host.source))")
        }
    }

    /// Supervises workers until SIGTERM or SIGINT, which make them retire. Under systemd it sends
    /// READY=1 once every worker has started, a status line every second (with the watchdog's
    /// ping when it is on), and STOPPING=1 when the workers start to retire.
    static func runNanny(
        scheduler: HostAndPort, workers: Int, threads: Int, memoryLimit: String, host: String, workerPort: Int,
        nannyPort: Int, localDirectory: String?, name: String?, drainTimeout: Double, standby: Bool = true,
        logLevel: String, security: Security
    ) async throws {
        let limit = try resolveMemoryLimit(memoryLimit, workers: workers)
        let logger = makeLogger("drover.nanny", level: logLevel)
        let nanny = Nanny(
            options: .init(
                scheduler: scheduler, workers: workers, threads: threads, memoryLimit: limit, host: host,
                workerPort: workerPort, nannyPort: nannyPort, localDirectory: localDirectory,
                name: name ?? "\(ProcessInfo.processInfo.hostName)-\(getpid())",
                executable: ProcessPool.currentExecutablePath, logLevel: logLevel,
                drainTimeout: .milliseconds(Int64(drainTimeout * 1000)), standby: standby, security: security),
            logger: logger
        )
        let signals = ShutdownSignals {
            ServiceManager.notify(.stopping, logger: logger)
            Task { await nanny.shutdown() }
        }
        defer { signals.cancel() }
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await StatusReporter(logger: logger) { await nanny.summary() }.run() }
            try await nanny.run { address in
                announce(address)
                ServiceManager.notify(.ready, logger: logger)
            }
            group.cancelAll()
        }
    }
}
