import ArgumentParser
import DroverCore
import DroverDashboard
import DroverProto
import DroverScheduler
import DroverSystemd
import DroverWorker
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import NIOCore
import Synchronization

/// `drover scheduler`: the cluster's scheduler.
struct SchedulerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scheduler",
        abstract: "Run the scheduler; prints 'LISTENING <host:port>' once it accepts connections."
    )

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0: any free port).")
    var port = 8786

    @Option(help: "Log level: trace, debug, info, warning, error.")
    var logLevel = "info"

    @Option(
        help: ArgumentHelp(
            "A Unix-domain socket to listen on as well, for clients and workers of this host (unix:PATH).",
            discussion: """
                The same streams as the port, without TCP: a round trip is shorter. Who may connect is \
                the socket file's mode (the umask's, or the directory's) and, with TLS, a certificate \
                that the client checks against 'localhost'.
                """))
    var unixSocket: String?

    @Option(help: "Port of the web dashboard (0: any free port; in use: any free port, with a warning).")
    var dashboardPort = 8787

    @Option(help: "Address the dashboard listens on (default: --host).")
    var dashboardHost: String?

    @Flag(help: "Serve no dashboard.")
    var noDashboard = false

    @Option(help: "A bearer token the dashboard's /api and /metrics require (Authorization: Bearer …, or ?token=).")
    var dashboardToken: String?

    @Option(help: "A file holding the dashboard's bearer token (instead of --dashboard-token).")
    var dashboardTokenFile: String?

    @Option(
        help: ArgumentHelp(
            "Remove a worker not heard from for this many seconds (0: never).",
            discussion: "Workers send a heartbeat every second; a hung worker's tasks go elsewhere after this."))
    var workerTTL: Double = 30

    @Option(help: "The largest message accepted, in bytes; larger ones are refused with resourceExhausted.")
    var maxMessageBytes = TransportLimits.maxMessageBytes

    @OptionGroup(title: "TLS") var tls: TLSOptions

    /// How long RPCs in flight get to finish after SIGTERM before the server stops; workers' and
    /// clients' streams never end on their own, and reconnect to the next scheduler.
    static let shutdownGrace = Duration.seconds(1)

    func run() async throws {
        DroverLogging.bootstrap(component: .scheduler)
        let logger = makeLogger("drover.scheduler", level: logLevel)
        let activated = try ServiceManager.listeningSocket()
        let security = try tls.security()
        guard maxMessageBytes > 0 else { throw ValidationError("--max-message-bytes must be positive.") }
        if let unixSocket, HostAndPort(schedulerAddress: "unix:" + unixSocket) == nil {
            throw ValidationError(
                "--unix-socket must be an absolute path of at most \(HostAndPort.maxUnixSocketPathBytes) bytes.")
        }
        guard workerTTL >= 0, workerTTL.isFinite else {
            throw ValidationError(
                "--worker-ttl must be a number of seconds, 0 or more (0: never remove a silent worker).")
        }
        var configuration = SchedulerState.Configuration()
        configuration.workerTTL = workerTTL > 0 ? .milliseconds(Int64(workerTTL * 1000)) : nil
        let service = SchedulerService(configuration: configuration, security: security, logger: logger)
        let address = Mutex("")
        // gRPC listens on a Unix socket of its own in a private directory; the port (or systemd's
        // socket) belongs to the wire front, which passes every connection that is not a wire
        // stream to it (see WireServer).
        let privateDirectory = try PrivateDirectory(prefix: "drover-scheduler")
        defer { privateDirectory.remove() }
        let grpcSocket = privateDirectory.path + "/grpc.sock"
        let rpc = SchedulerRPCService(
            service: service, maxMessageBytes: maxMessageBytes, address: { address.withLock { $0 } })
        let server = GRPCServer(
            transport: Transports.makeServer(
                unixSocket: grpcSocket, maxMessageBytes: maxMessageBytes, security: security),
            services: [rpc],
            interceptors: Transports.interceptors(security: security, logger: logger)
        )
        let (stopRequests, requestStop) = AsyncStream<Void>.makeStream()
        let signals = ShutdownSignals {
            ServiceManager.notify(.stopping, logger: logger)
            requestStop.yield()
        }
        defer { signals.cancel() }
        try await withThrowingTaskGroup(of: Finished.self) { group in
            group.addTask {
                try await server.serve()
                return .server
            }
            guard (try? await server.listeningAddress) != nil else {
                var cause = "its server stopped"
                do { _ = try await group.next() } catch { cause = "\(error)" }
                throw CommandFailure("The scheduler's gRPC server could not listen on \(grpcSocket): \(cause)")
            }
            let wire: WireServer
            let requested =
                (activated.map { "the socket systemd passed (fd \($0))" } ?? "\(host):\(port)")
                + (unixSocket.map { " and unix:\($0)" } ?? "")
            do {
                wire = try await WireServer(
                    listening: activated.map { .socket($0) } ?? .address(host: host, port: port),
                    grpcSocketPath: grpcSocket, security: security, maxMessageBytes: maxMessageBytes,
                    connectionLoop: service.loop, unixSocket: unixSocket, logger: logger)
            } catch {
                // Its own words say why (the address is in use, …).
                server.beginGracefulShutdown()
                throw CommandFailure("The scheduler could not listen on \(requested): \(error)")
            }
            guard let bound = wire.localAddress, let text = advertised(bound, activated: activated) else {
                server.beginGracefulShutdown()
                await wire.close()
                throw CommandFailure("The scheduler could not listen on \(requested): it has no IP address")
            }
            group.addTask {
                await withDiscardingTaskGroup { streams in
                    for await connection in wire.streams {
                        // Read on the scheduler's loop, which the connection and the state share.
                        streams.addTask(executorPreference: service.readingExecutor) {
                            await Self.serve(connection, rpc: rpc, logger: logger)
                        }
                    }
                }
                return .reporter
            }
            address.withLock { $0 = text }
            if !noDashboard {
                // Launchers read stdout up to LISTENING: the dashboard's line comes first.
                // With TLS the dashboard serves HTTPS with the scheduler's certificate.
                let token = try dashboardBearer()
                let dashboard = Dashboard(
                    service: service, host: dashboardHost ?? host, port: dashboardPort, token: token,
                    certificateFile: security.certificateFile, keyFile: security.keyFile, logger: logger)
                let scheme = dashboard.isHTTPS ? "https" : "http"
                let (bound, listening) = AsyncStream<String>.makeStream()
                group.addTask {
                    do {
                        try await dashboard.run { listening.yield($0) }
                    } catch {
                        logger.error("dashboard failed", metadata: ["error": "\(error)"])
                    }
                    listening.finish()
                    return .dashboard
                }
                for await address in bound {
                    FileHandle.standardOutput.write(Data("DASHBOARD \(scheme)://\(address)/status\n".utf8))
                    logger.info(
                        "dashboard listening",
                        metadata: [
                            "url": "\(scheme)://\(address)/status", "token": "\(token != nil)",
                        ])
                    break
                }
            }
            announce(text)
            logger.info(
                "scheduler listening",
                metadata: [
                    "address": "\(text)", "socket.activated": "\(activated != nil)", "tls": "\(security.isEncrypted)",
                    "unix.socket": "\(unixSocket ?? "none")",
                ])
            ServiceManager.notify(.ready, logger: logger)
            group.addTask {
                await StatusReporter(logger: logger) { await service.summary() }.run()
                return .reporter
            }
            group.addTask {
                await service.runClock()
                return .reporter
            }
            group.addTask {
                for await _ in stopRequests { break }
                return .stopRequested
            }
            group.addTask {
                // A client's shutdown: the state has told the nannies and workers already.
                for await _ in service.stopRequests { break }
                return .stopRequested
            }
            var stopping = false
            while let finished = try await group.next() {
                switch finished {
                case .reporter, .dashboard: continue
                case .stopRequested:
                    guard !stopping else { continue }
                    stopping = true
                    logger.info("scheduler stopping")
                    await wire.close()
                    server.beginGracefulShutdown()
                    group.addTask {
                        try? await Task.sleep(for: Self.shutdownGrace)
                        return .graceOver
                    }
                case .server where stopping:
                    // Wire streams have the rest of the grace period to send what is queued (the
                    // workers' Close on a client's shutdown); then cancelling closes them.
                    continue
                case .server, .graceOver:
                    group.cancelAll()
                    return
                }
            }
        }
    }

    private enum Finished { case server, reporter, stopRequested, graceOver, dashboard }

    /// A wire stream, served by the same handlers as its gRPC method.
    private static func serve(_ connection: WireConnection, rpc: SchedulerRPCService, logger: Logger) async {
        switch connection.kind {
        case .worker:
            await connection.serve(Drover_V1_WorkerEvents.self, Drover_V1_WorkerCommands.self, logger: logger) {
                try await rpc.workerStream(request: $0, output: $1, context: $2)
            }
        case .client:
            // A client that stops reading is cut off (UnsentGuard); workers have their TTL.
            await connection.serve(
                Drover_V1_ClientEvents.self, Drover_V1_ClientUpdates.self, guardingUnsent: true, logger: logger
            ) {
                try await rpc.clientStream(request: $0, output: $1, context: $2)
            }
        case .bulk:
            break  // a worker's stream: the scheduler's front never accepts it
        }
    }

    /// The dashboard's token from --dashboard-token or --dashboard-token-file (its first line).
    private func dashboardBearer() throws -> String? {
        if let dashboardToken { return dashboardToken.isEmpty ? nil : dashboardToken }
        guard let dashboardTokenFile else { return nil }
        guard let text = try? String(contentsOfFile: dashboardTokenFile, encoding: .utf8),
            let line = text.split(whereSeparator: \.isNewline).first, !line.isEmpty
        else { throw ValidationError("--dashboard-token-file \(dashboardTokenFile): no token in that file.") }
        return String(line)
    }

    /// The address the scheduler gives out: --host and the bound port, or for a socket that
    /// systemd passed, its IPv4 address (--host when it listens on every address, or on IPv6).
    private func advertised(_ bound: NIOCore.SocketAddress, activated: Int32?) -> String? {
        guard let port = bound.port else { return nil }
        if activated != nil, case .v4 = bound, let ip = bound.ipAddress, ip != "0.0.0.0" { return "\(ip):\(port)" }
        return "\(host):\(port)"
    }
}

/// `drover worker`: one worker process.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run workers for the scheduler at ADDRESS under a nanny (or one bare worker with --no-nanny); "
            + "prints 'LISTENING <host:port>' once they serve."
    )

    @Argument(help: "The scheduler's host:port.")
    var scheduler: String

    @Option(help: "Tasks run at once.")
    var nthreads = 1

    @Option(help: "Worker processes to start under a nanny (as `drover nanny --nworkers`).")
    var nworkers = 1

    @Flag(help: "Run one worker in this process, without a nanny (no memory enforcement, no restarts).")
    var noNanny = false

    @Option(help: "The worker's name (default: its address; under a nanny: <name>-0, <name>-1, …).")
    var name: String?

    @Option(help: "Address to serve data on.")
    var host = "127.0.0.1"

    @Option(help: "Port to serve data on (0: any free port).")
    var port = 0

    @Option(help: "Memory limit, e.g. 4GiB or 500MB; near it results spill to disk and the worker pauses.")
    var memoryLimit: String?

    @Option(help: "Spill results to disk when those in memory pass this fraction of the memory limit (0: never).")
    var memoryTargetFraction = 0.6

    @Option(help: "Spill results to disk when the process's memory passes this fraction of the limit (0: never).")
    var memorySpillFraction = 0.7

    @Option(help: "Pause (run nothing new) when the process's memory passes this fraction of the limit (0: never).")
    var memoryPauseFraction = 0.8

    @Option(help: "Directory for the worker's spill files (default: the system's temporary directory).")
    var localDirectory: String?

    @Option(help: .hidden)
    var nanny = ""

    /// Started by a nanny ahead of need: waits for "<name> <port>" on stdin before it starts.
    @Flag(help: .hidden)
    var standby = false

    @Option(help: "Seconds a closing worker waits for task bodies still running before it exits without them.")
    var closeTimeout: Double = 10

    @Option(help: "Log level: trace, debug, info, warning, error.")
    var logLevel = "info"

    @OptionGroup(title: "TLS") var tls: TLSOptions

    func validate() throws {
        for (option, fraction) in [
            ("--memory-target-fraction", memoryTargetFraction), ("--memory-spill-fraction", memorySpillFraction),
            ("--memory-pause-fraction", memoryPauseFraction),
        ] where !(0...1).contains(fraction) {
            throw ValidationError("\(option) is \(fraction); a fraction of the memory limit is from 0 to 1.")
        }
        guard closeTimeout.isFinite, (0...86_400).contains(closeTimeout) else {
            throw ValidationError("--close-timeout is \(closeTimeout); give seconds from 0 to 86400.")
        }
    }

    /// `$DROVER_SHARED_MEMORY`: the smallest result kept in shared memory for workers of the same
    /// host (a size such as `1MiB`, the default), or `off`. An environment variable rather than an
    /// option, so that it reaches workers through a nanny and `Client.local` alike.
    static func sharedMemoryMinBytes() throws -> Int? {
        guard let text = ProcessInfo.processInfo.environment["DROVER_SHARED_MEMORY"], !text.isEmpty else {
            return 1 << 20
        }
        if text == "off" { return nil }
        do {
            return Int(try MemorySize.parse(text))
        } catch {
            throw ValidationError("DROVER_SHARED_MEMORY is '\(text)': a size such as 1MiB, or off.")
        }
    }

    func run() async throws {
        DroverLogging.bootstrap(component: nanny.isEmpty && !noNanny ? .nanny : .worker)
        let (security, endpoint) = try tls.scheduler(scheduler)
        // As `dask worker`: a nanny unless told otherwise; the nanny starts its workers with --nanny.
        if nanny.isEmpty && !noNanny {
            guard nworkers >= 1 else { throw ValidationError("--nworkers must be at least 1.") }
            try await NannyOptions.runNanny(
                scheduler: endpoint, workers: nworkers, threads: nthreads, memoryLimit: memoryLimit ?? "auto",
                host: host, workerPort: port, nannyPort: 0, localDirectory: localDirectory, name: name,
                drainTimeout: 10, logLevel: logLevel, security: security)
            return
        }
        var (name, port) = (self.name, self.port)
        if standby {
            // End of file instead of a name: the nanny no longer needs this process.
            guard let line = readLine(), case let parts = line.split(separator: " "), parts.count == 2,
                let given = Int(parts[1])
            else { Glibc.exit(0) }
            (name, port) = (String(parts[0]), given)
        }
        let limit = try memoryLimit.map(MemorySize.parse) ?? 0
        let logger = makeLogger("drover.worker", level: logLevel)
        let runtime = WorkerRuntime(
            options: .init(
                scheduler: endpoint, host: host, port: port, threads: nthreads, name: name, memoryLimit: limit,
                memoryTargetFraction: memoryTargetFraction, memorySpillFraction: memorySpillFraction,
                memoryPauseFraction: memoryPauseFraction, localDirectory: localDirectory, nanny: nanny,
                security: security, sharedMemoryMinBytes: try Self.sharedMemoryMinBytes(),
                closeTimeout: .seconds(closeTimeout)),
            registry: DroverCommand.registry,
            logger: logger
        )
        // Only a worker without a nanny talks to systemd; one under a nanny inherited the
        // nanny's $NOTIFY_SOCKET, which is not its own.
        let isService = nanny.isEmpty
        // SIGTERM (or SIGINT) retires the worker: its results move to other workers, then the
        // scheduler closes it. A second one, or one while no scheduler is connected, ends it at once.
        let signals = ShutdownSignals {
            if isService { ServiceManager.notify(.stopping, logger: logger) }
            Task { if !runtime.retire(reason: "SIGTERM") { Glibc.exit(0) } }
        }
        defer { signals.cancel() }
        guard isService else { return try await runtime.run(onListening: announce) }
        let address = Mutex("")
        let reporter = StatusReporter(logger: logger) {
            address.withLock { $0.isEmpty ? "worker starting" : "worker serving at \($0)" }
        }
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await reporter.run() }
            try await runtime.run { text in
                address.withLock { $0 = text }
                announce(text)
                ServiceManager.notify(.ready, logger: logger)
            }
            group.cancelAll()
        }
    }
}

/// Prints the line test harnesses and launchers wait for, unbuffered.
func announce(_ address: String) {
    FileHandle.standardOutput.write(Data("LISTENING \(address)\n".utf8))
}

func makeLogger(_ label: String, level: String) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = Logger.Level(rawValue: level) ?? .info
    return logger
}
