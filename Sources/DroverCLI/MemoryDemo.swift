import ArgumentParser
import DroverClient
import DroverCore
import Foundation

/// `drover demo memory`: a task that needs more memory than its worker may use. The worker's
/// cgroup limit stops it, the nanny restarts the worker, and after the third death the task ends in
/// `KilledWorker` naming the cause, while the cluster keeps serving.
struct MemoryDemo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memory",
        abstract: "Submit a task that allocates more than a worker's memory limit and show what the cluster does."
    )

    @Option(help: "An existing cluster's scheduler (host:port); default: a local cluster of one worker.")
    var scheduler: String?

    @Option(help: "The local cluster's worker memory limit.")
    var memoryLimit = "300MiB"

    @Option(help: "Bytes the task allocates and touches (default: twice the largest worker limit).")
    var bytes: String?

    func run() async throws {
        let (client, cluster) = try await demoCluster(
            scheduler: scheduler, workers: 1, threadsPerWorker: 1, memoryLimit: memoryLimit)
        defer { cluster?.close() }
        let before = try await client.status()
        let largest = before.workers.map(\.memoryLimit).max() ?? 0
        let size: Int64
        if let bytes {
            size = try MemorySize.parse(bytes)
        } else if largest > 0 {
            size = 2 * largest
        } else {
            throw ValidationError("no worker has a memory limit; say how much to allocate with --bytes")
        }
        print(
            "allocate(\(MemorySize.format(size))) on \(before.workers.count) workers "
                + "(largest limit \(largest > 0 ? MemorySize.format(largest) : "none"))")
        let start = ContinuousClock.now
        do {
            let touched = try await client.submit(Builtins.allocate, Int(size), 0.5).result()
            print("finished: \(MemorySize.format(Int64(touched))) allocated (the limit did not stop it)")
        } catch let error as TaskError {
            print(error.kind == .killedWorker ? "KilledWorker: \(error)" : "erred: \(error)")
        }
        print("after \(LocalDemo.seconds(ContinuousClock.now - start)) s")
        // The cluster keeps serving: a small task still runs.
        print("inc(1) = \(try await client.submit(Builtins.inc, 1).result())")
        let after = try await client.status()
        for worker in after.workers.sorted(by: { $0.id < $1.id }) {
            let cause = worker.lastExitCause.isEmpty ? "" : ", last exit: \(worker.lastExitCause)"
            print("\(worker.id): \(worker.restarts) restarts\(cause)")
        }
        await client.close()
    }
}
