import ArgumentParser
import DroverClient
import DroverCore
import DroverProto
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2

/// `drover bench nanny`: how fast the nanny replaces a killed worker, and how fast a task that
/// runs its worker out of memory ends in `KilledWorker`.
struct NannyBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nanny",
        abstract: "kill -9 → replacement worker registered; submit of a 1 GiB task → KilledWorker.",
        discussion: "Benchmarks: restart, oom. Each on a local cluster of one nanny with one worker."
    )

    @Option(help: "kill -9 → replacement measurements, each on a fresh cluster; the median is reported.")
    var kills = 5

    @Option(help: "Runs of the 1 GiB task; the median is reported.")
    var repeats = 3

    @Option(help: "The worker's memory limit for the 1 GiB task.")
    var memoryLimit = "300MiB"

    @Option(help: "Only these benchmarks, comma-separated.")
    var only: String?

    @Flag(help: "Also run the same workloads on Dask (needs $DROVER_DASK_PYTHON or .venv-bench; see scripts/bench).")
    var compareDask = false

    func run() async throws {
        #if DEBUG
            print("warning: this is a debug build; measure with `swift run -c release drover bench nanny`")
        #endif
        let selected = Set((only ?? "restart,oom").split(separator: ",").map(String.init))
        var rows: [(label: String, value: Double, target: String, bench: String)] = []
        if selected.contains("restart") {
            rows.append(("kill -9 → replacement registered", try await restart(), "<= 50", "restart"))
        }
        if selected.contains("oom") {
            rows.append(("submit of a 1 GiB task → KilledWorker (\(memoryLimit))", try await oom(), "-", "oom"))
        }
        var dask: [[String: String]] = []
        if compareDask {
            dask = try await PeerComparison.dask.run(
                script: "scripts/dask/nanny_bench.py",
                arguments: [
                    "--kills", String(kills), "--repeats", String(repeats), "--memory-limit", memoryLimit,
                    "--only", selected.sorted().joined(separator: ","),
                ])
            if let version = dask.first?["dask"] { print("Dask \(version) (distributed.LocalCluster with nannies)") }
        }
        var headers = ["workload", "drover", "target"]
        if compareDask { headers += ["dask", "drover vs dask"] }
        let table = rows.map { row -> [String] in
            var cells = [row.label, ClusterBench.format(row.value) + " ms", row.target]
            if compareDask {
                if let theirs = dask.first(where: { $0["bench"] == row.bench })?["seconds"].flatMap(Double.init) {
                    cells += [
                        ClusterBench.format(theirs * 1000) + " ms", String(format: "%.1fx", theirs * 1000 / row.value),
                    ]
                } else {
                    cells += ["-", "-"]
                }
            }
            return cells
        }
        print(Table(headers: headers, rows: table).render())
    }

    /// Milliseconds from SIGKILL of a healthy worker to the scheduler announcing its replacement.
    /// Each kill is on a fresh cluster: kills in a row are a crash loop, which the nanny meets with
    /// backoff (printed after, for scale).
    func restart() async throws -> Double {
        var times: [Duration] = []
        for _ in 0..<kills {
            let (client, cluster) = try await Client.local(workers: 1, threadsPerWorker: 1, memoryLimit: "0")
            defer { cluster.close() }
            times.append(try await Self.killAndWait(client, cluster))
            await client.close()
        }
        print("restart: \(times.map { ClusterBench.format($0.inSeconds * 1e3) }.joined(separator: ", ")) ms")
        let (client, cluster) = try await Client.local(workers: 1, threadsPerWorker: 1, memoryLimit: "0")
        defer { cluster.close() }
        var loop: [Duration] = []
        for _ in 0..<5 { loop.append(try await Self.killAndWait(client, cluster)) }
        await client.close()
        print(
            "restart, 5 kills in a row (backoff): \(loop.map { ClusterBench.format($0.inSeconds * 1e3) }.joined(separator: ", ")) ms"
        )
        return LocalBench.median(times).inSeconds * 1e3
    }

    /// Kills the cluster's worker and waits until a new one is registered; then until the nanny knows it.
    static func killAndWait(_ client: Client, _ cluster: LocalCluster) async throws -> Duration {
        // A worker that has run a while: the nanny has its standby ready (it starts it 250 ms after
        // its workers, so that the two do not compete for the cores).
        try await Task.sleep(for: .milliseconds(500))
        let worker = try await nannyWorkers(cluster.nannyAddress, security: cluster.security).first { $0.pid > 0 }
        guard let worker, client.workerAddresses == [worker.address] else {
            throw ValidationError("the nanny's worker is not registered")
        }
        let start = ContinuousClock.now
        kill(worker.pid, SIGKILL)
        while client.workerAddresses.isEmpty || client.workerAddresses == [worker.address] {
            try await Task.sleep(for: .microseconds(200))
        }
        let elapsed = ContinuousClock.now - start
        while try await nannyWorkers(cluster.nannyAddress, security: cluster.security).first(where: { $0.pid > 0 })?
            .address
            != client.workerAddresses.first
        {
            try await Task.sleep(for: .milliseconds(5))
        }
        return elapsed
    }

    /// Milliseconds from submitting a task that touches 1 GiB to its `KilledWorker` error.
    func oom() async throws -> Double {
        let (client, cluster) = try await Client.local(workers: 1, threadsPerWorker: 1, memoryLimit: memoryLimit)
        defer { cluster.close() }
        var times: [Duration] = []
        for run in 0..<repeats {
            try await client.waitForWorkers(1)
            let start = ContinuousClock.now
            let future = try client.submit(Builtins.allocate, (1 << 30) + run, 0.0)
            do {
                _ = try await future.result()
                throw ValidationError("the 1 GiB task finished under a \(memoryLimit) limit")
            } catch let error as TaskError where error.kind == .killedWorker {
                times.append(ContinuousClock.now - start)
                if run == 0 { print("oom: \(error.message)") }
            }
        }
        await client.close()
        return LocalBench.median(times).inSeconds * 1e3
    }

    static func nannyWorkers(_ address: String, security: Security) async throws -> [Drover_V1_NannyWorker] {
        guard let endpoint = HostAndPort(address) else { throw ValidationError("bad nanny address \(address)") }
        return try await withGRPCClient(
            transport: try Transports.makeClient(to: endpoint, security: security)
        ) { client in
            try await Drover_V1_Nanny.Client(wrapping: client).status(.init()).workers
        }
    }
}
