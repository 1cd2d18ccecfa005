import ArgumentParser
import DroverClient
import DroverCore
import Foundation

/// `drover status`: what the scheduler knows about its workers, as a table or JSON.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the workers of the cluster whose scheduler is at ADDRESS, and what they are doing."
    )

    @Argument(help: "The scheduler's host:port.")
    var scheduler: String

    @Flag(help: "Print JSON (one object: workers, threads, tasks, clients) instead of a table.")
    var json = false

    @Option(help: "Seconds the scheduler has to answer.")
    var timeout: Double = 5

    @OptionGroup(title: "TLS") var tls: TLSOptions

    func validate() throws {
        guard timeout > 0 else { throw ValidationError("--timeout must be more than 0 seconds.") }
    }

    func run() async throws {
        let status = try await ClusterStatus.fetch(
            from: scheduler, security: try tls.security(), timeout: .milliseconds(Int64(timeout * 1000)))
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let data = try encoder.encode(Report(status))
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(Self.render(status))
        }
    }

    /// The table of workers, then the summary line.
    static func render(_ status: ClusterStatus) -> String {
        let anyExit = status.workers.contains { !$0.lastExitCause.isEmpty }
        var headers = [
            "worker", "address", "threads", "processing", "executing", "memory / limit", "spilled", "status",
            "restarts", "in", "out",
        ]
        if anyExit { headers.append("last exit") }
        let rows = status.workers.sorted { $0.id.rawValue < $1.id.rawValue }.map { worker in
            var row = [
                worker.id.rawValue, worker.address, String(worker.threads), String(worker.processing),
                String(worker.executing),
                MemorySize.format(worker.memoryBytes) + " / "
                    + (worker.memoryLimit > 0 ? MemorySize.format(worker.memoryLimit) : "none"),
                MemorySize.format(worker.spilledBytes), worker.status, String(worker.restarts),
                MemorySize.format(worker.incomingTransferBytes), MemorySize.format(worker.outgoingTransferBytes),
            ]
            if anyExit { row.append(worker.lastExitCause) }
            return row
        }
        let report = Report(status)
        let summary =
            "\(report.workers.count) workers, \(report.threads) threads, \(report.tasks) tasks, "
            + "\(report.clients) clients"
        return status.workers.isEmpty ? summary : Table(headers: headers, rows: rows).render() + "\n" + summary
    }

    /// `--json`'s shape: byte counts as numbers, names as the table's.
    struct Report: Encodable {
        struct Worker: Encodable {
            var id, address, status, nanny, lastExitCause: String
            var threads, processing, executing, held, restarts: Int
            var memoryBytes, memoryLimit, managedBytes, spilledBytes: Int64
            var incomingTransferBytes, outgoingTransferBytes: Int64
            var paused: Bool
        }

        var workers: [Worker]
        var threads, tasks, clients: Int

        init(_ status: ClusterStatus) {
            workers = status.workers.sorted { $0.id.rawValue < $1.id.rawValue }.map {
                Worker(
                    id: $0.id.rawValue, address: $0.address, status: $0.status, nanny: $0.nanny,
                    lastExitCause: $0.lastExitCause, threads: $0.threads, processing: $0.processing,
                    executing: $0.executing, held: $0.held, restarts: $0.restarts, memoryBytes: $0.memoryBytes,
                    memoryLimit: $0.memoryLimit, managedBytes: $0.managedBytes, spilledBytes: $0.spilledBytes,
                    incomingTransferBytes: $0.incomingTransferBytes, outgoingTransferBytes: $0.outgoingTransferBytes,
                    paused: $0.isPaused)
            }
            threads = status.workers.reduce(0) { $0 + $1.threads }
            tasks = status.tasks
            clients = status.clients
        }
    }
}
