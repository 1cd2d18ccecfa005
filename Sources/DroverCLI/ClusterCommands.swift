import ArgumentParser
import DroverCore
import DroverProto
import DroverScheduler
import DroverWorker
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
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

    func run() async throws {
        let logger = makeLogger("drover.scheduler", level: logLevel)
        let service = SchedulerService(logger: logger)
        let address = Mutex("")
        let server = GRPCServer(
            transport: .http2NIOPosix(
                address: .ipv4(host: host, port: port), transportSecurity: .plaintext, config: TransportLimits.server()),
            services: [SchedulerRPCService(service: service, address: { address.withLock { $0 } })]
        )
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await server.serve() }
            guard let bound = try await server.listeningAddress?.ipv4 else {
                throw ValidationError("The scheduler could not listen on \(host):\(port).")
            }
            let text = "\(host):\(bound.port)"
            address.withLock { $0 = text }
            announce(text)
            logger.info("scheduler listening", metadata: ["address": "\(text)"])
        }
    }
}

/// `drover worker`: one worker process.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run a worker for the scheduler at ADDRESS; prints 'LISTENING <host:port>' once it serves data."
    )

    @Argument(help: "The scheduler's host:port.")
    var scheduler: String

    @Option(help: "Tasks run at once.")
    var nthreads = 1

    @Option(help: "The worker's name (default: its address).")
    var name: String?

    @Option(help: "Address to serve data on.")
    var host = "127.0.0.1"

    @Option(help: "Port to serve data on (0: any free port).")
    var port = 0

    @Option(help: "Memory limit, e.g. 4GiB or 500MB (reported; enforcement comes with the nanny).")
    var memoryLimit: String?

    @Option(help: "Log level: trace, debug, info, warning, error.")
    var logLevel = "info"

    func run() async throws {
        guard let endpoint = HostAndPort(scheduler) else {
            throw ValidationError("'\(scheduler)' is not a scheduler address of the form host:port.")
        }
        let limit = try memoryLimit.map(MemorySize.parse) ?? 0
        let runtime = WorkerRuntime(
            options: .init(
                scheduler: endpoint, host: host, port: port, threads: nthreads, name: name, memoryLimit: limit),
            registry: DroverCommand.registry,
            logger: makeLogger("drover.worker", level: logLevel)
        )
        try await runtime.run(onListening: announce)
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

/// Memory sizes as Dask writes them: `4GiB`, `500MB`, `1e9`, plain bytes.
enum MemorySize {
    static func parse(_ text: String) throws -> Int64 {
        let units: [(String, Double)] = [
            ("KiB", 1024), ("MiB", 1_048_576), ("GiB", 1_073_741_824), ("TiB", 1_099_511_627_776),
            ("kB", 1e3), ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12), ("B", 1),
        ]
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        for (suffix, factor) in units where trimmed.hasSuffix(suffix) {
            if let number = Double(trimmed.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), number >= 0 {
                return Int64(number * factor)
            }
        }
        if let number = Double(trimmed), number >= 0 { return Int64(number) }
        throw ValidationError("'\(text)' is not a memory size (examples: 4GiB, 500MB, 1000000).")
    }
}
