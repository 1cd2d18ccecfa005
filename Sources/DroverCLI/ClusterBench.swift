import ArgumentParser
import DroverClient
import DroverCore
import DroverLocal
import DroverProto
import Foundation

/// `drover bench cluster`: the distributed cluster's throughput, latency, transfer rate, startup
/// and scheduler memory, on local clusters of this binary's processes.
struct ClusterBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Throughput, latency, transfer, startup and scheduler memory of a local cluster.",
        discussion: """
            Benchmarks: map_gather, submit_result, tree_reduce, transfer, startup, scheduler_rss, scale \
            (not run by default: map+gather of --scale-tasks on one cluster, with the scheduler's RSS \
            while the results are held).
            Workloads a-d run on 2 workers x 1 thread; startup starts 4 workers. The clusters are \
            plaintext, as before TLS became Client.local's default; --tls runs a-d on a TLS cluster \
            too and prints the two side by side.
            """
    )

    @Option(help: "Task counts for map+gather, comma-separated.")
    var mapTasks = "10000,100000"

    @Option(help: "Sequential submit→result round trips.")
    var sequential = 1000

    @Option(help: "Leaves of the binary tree reduction.")
    var leaves = 8192

    @Option(help: "MiB produced on one worker and consumed on the other.")
    var transferMib = 256

    @Option(help: "Finished tasks held by futures for the scheduler memory figure.")
    var held = 100_000

    @Option(help: "Task counts for the scale benchmark, comma-separated.")
    var scaleTasks = "10000,100000,1000000"

    @Option(help: "Runs per measurement; the median is reported.")
    var repeats = 3

    @Option(help: "Only these benchmarks, comma-separated.")
    var only: String?

    @Flag(help: "Also run the same workloads on Dask (needs $DROVER_DASK_PYTHON or .venv-bench; see scripts/bench).")
    var compareDask = false

    @Flag(help: "Also run workloads a-d and f on Ray (needs $DROVER_RAY_PYTHON or .venv-ray; see scripts/bench).")
    var compareRay = false

    @Flag(help: "Also run workloads a-d on a cluster with mutual TLS, beside plaintext, with the ratio.")
    var tls = false

    @Option(
        name: .customLong("transport"),
        help: "How the client and the workers reach the scheduler: unix (a Unix socket, the default) or tcp.")
    var transportName = "unix"

    var transport: LocalCluster.Transport { LocalCluster.Transport(rawValue: transportName) ?? .unix }

    /// One figure: ours, and the JSON line fields of Dask's that match it.
    struct Figure {
        var bench: String
        var label: String
        var unit: String
        var value: Double
        var higherIsBetter: Bool
        var target: String
        /// Fields identifying a peer's line (Dask's or Ray's: their scripts print the same fields),
        /// and the field holding its value.
        var daskMatch: [String: String]
        var daskField: String
        /// Converts the peer's field to `unit`.
        var daskScale: Double = 1

        /// The peer's value in `unit`, from its JSON lines, if it measured this figure.
        func peerValue(in lines: [[String: String]]) -> Double? {
            let line = lines.first { line in daskMatch.allSatisfy { line[$0.key] == $0.value } }
            guard let field = line.flatMap({ $0[daskField] }).flatMap(Double.init), field > 0 else { return nil }
            return field * daskScale
        }

        /// How many times better ours is than `theirs` (above 1: Drover is ahead).
        func ratio(to theirs: Double) -> Double {
            higherIsBetter ? value / theirs : theirs / value
        }
    }

    func validate() throws {
        guard LocalCluster.Transport(rawValue: transportName) != nil else {
            throw ValidationError("--transport is unix or tcp, not '\(transportName)'.")
        }
    }

    func run() async throws {
        #if DEBUG
            print("warning: this is a debug build; measure with `swift run -c release drover bench cluster`")
        #endif
        let selected = Set(
            (only ?? "map_gather,submit_result,tree_reduce,transfer,startup,scheduler_rss").split(
                separator: ","
            ).map(String.init))
        print("\(ProcessInfo.processInfo.activeProcessorCount) cores; median of \(repeats) runs where repeated")
        var figures: [Figure] = []
        var tlsFigures: [Figure] = []
        if !selected.isDisjoint(with: ["map_gather", "submit_result", "tree_reduce", "transfer"]) {
            figures += try await workloads(selected, insecurePlaintext: true)
            if tls { tlsFigures = try await workloads(selected, insecurePlaintext: false) }
        }
        if selected.contains("startup") { figures += try await startup() }
        if selected.contains("scheduler_rss") { figures += try await schedulerMemory() }
        if selected.contains("scale") { figures += try await scale() }
        var dask: [[String: String]] = []
        if compareDask {
            dask = try await PeerComparison.dask.run(
                script: "scripts/dask/cluster_bench.py",
                arguments: [
                    "--map-tasks", mapTasks, "--sequential", String(sequential), "--leaves", String(leaves),
                    "--transfer-mib", String(transferMib), "--held", String(held), "--repeats", String(repeats),
                    "--only", selected.sorted().joined(separator: ","),
                ]
            )
            if let version = dask.first?["dask"] { print("Dask \(version) (distributed.LocalCluster, processes)") }
        }
        var ray: [[String: String]] = []
        if compareRay {
            let rayBenches = selected.intersection(
                ["map_gather", "submit_result", "tree_reduce", "transfer", "scheduler_rss"])
            ray = try await PeerComparison.ray.run(
                script: "scripts/ray/cluster_bench.py",
                arguments: [
                    "--map-tasks", mapTasks, "--sequential", String(sequential), "--leaves", String(leaves),
                    "--transfer-mib", String(transferMib), "--held", String(held), "--repeats", String(repeats),
                    "--only", rayBenches.sorted().joined(separator: ","),
                ]
            )
            if let version = ray.first?["ray"] {
                print("Ray \(version) (one local node, num_cpus=2; (f) is the driver's memory per held ObjectRef)")
            }
        }
        var rows: [[String]] = []
        for figure in figures {
            var row = [figure.label, Self.format(figure.value) + " " + figure.unit, figure.target]
            for (compared, lines) in [(compareRay, ray), (compareDask, dask)] where compared {
                if let theirs = figure.peerValue(in: lines) {
                    row += [Self.format(theirs) + " " + figure.unit, String(format: "%.1fx", figure.ratio(to: theirs))]
                } else {
                    row += ["-", "-"]
                }
            }
            rows.append(row)
        }
        var headers = ["workload", "drover", "target"]
        if compareRay { headers += ["ray", "drover vs ray"] }
        if compareDask { headers += ["dask", "drover vs dask"] }
        print(Table(headers: headers, rows: rows).render())
        if tls { print("\n" + Self.compare(plaintext: figures, tls: tlsFigures)) }
    }

    /// Workloads a-d on a local cluster of 2 workers x 1 thread, plaintext or mutual TLS.
    func workloads(_ selected: Set<String>, insecurePlaintext: Bool) async throws -> [Figure] {
        var figures: [Figure] = []
        let (client, cluster) = try await Client.local(
            workers: 2, threadsPerWorker: 1, insecurePlaintext: insecurePlaintext, transport: transport)
        if selected.contains("map_gather") { figures += try await mapGather(client) }
        if selected.contains("submit_result") { figures += try await submitResult(client) }
        if selected.contains("tree_reduce") { figures += try await treeReduce(client) }
        if selected.contains("transfer") { figures += try await transfer(client) }
        await client.close()
        cluster.close()
        return figures
    }

    /// The TLS figures beside the plaintext ones: the cost of TLS as plaintext's advantage
    /// (above 1.00x: TLS is slower).
    static func compare(plaintext: [Figure], tls: [Figure]) -> String {
        let rows = zip(plaintext, tls).map { plain, secure in
            let cost = plain.higherIsBetter ? plain.value / secure.value : secure.value / plain.value
            return [
                plain.label, format(plain.value) + " " + plain.unit, format(secure.value) + " " + secure.unit,
                String(format: "%.2fx", cost),
            ]
        }
        return Table(headers: ["workload", "plaintext", "mutual TLS", "TLS cost"], rows: rows).render()
    }

    // MARK: - Workloads

    /// (a) `map` of no-ops and `gather` of their results.
    func mapGather(_ client: Client) async throws -> [Figure] {
        var figures: [Figure] = []
        for count in mapTasks.split(separator: ",").compactMap({ Int($0) }) {
            let inputs = Array(0..<count)
            var times: [Duration] = []
            for _ in 0..<repeats {
                let start = ContinuousClock.now
                let futures = try client.map(Builtins.noop, inputs, pure: false)
                let values = try await client.gather(futures)
                times.append(ContinuousClock.now - start)
                guard values == inputs else { throw ValidationError("map+gather returned wrong values") }
                try await Self.waitUntilReleased(client)
            }
            figures.append(
                Figure(
                    bench: "map_gather", label: "(a) map+gather \(count) no-ops", unit: "tasks/s",
                    value: Double(count) / LocalBench.median(times).inSeconds, higherIsBetter: true,
                    target: ">= 100000",
                    daskMatch: ["bench": "map_gather", "tasks": String(count)], daskField: "tasks_per_s"))
        }
        return figures
    }

    /// (b) One task at a time: submit, then wait for its result.
    func submitResult(_ client: Client) async throws -> [Figure] {
        for index in 0..<20 { _ = try await client.submit(Builtins.noop, index, pure: false).result() }
        var latencies: [Duration] = []
        for index in 0..<sequential {
            let start = ContinuousClock.now
            HopTrace.mark("bench.submit")
            let value = try await client.submit(Builtins.noop, index, pure: false).result()
            HopTrace.mark("bench.result")
            latencies.append(ContinuousClock.now - start)
            guard value == index else { throw ValidationError("submit→result returned \(value), not \(index)") }
        }
        if HopTrace.isOn, let directory = ProcessInfo.processInfo.environment[HopTrace.variable] {
            // Unmarked round trips, so that every process writes out the marks it still holds.
            for index in 0..<600 { _ = try await client.submit(Builtins.noop, index, pure: false).result() }
            HopTrace.flush()
            print(try HopTraceReport(directory: directory).render())
        }
        var identity: [Duration] = []
        for _ in 0..<200 {
            let start = ContinuousClock.now
            _ = try await client.status()
            identity.append(ContinuousClock.now - start)
        }
        print(
            String(
                format: "(b) for scale: one unary gRPC call (Identity) to the scheduler takes %.0f µs (median)",
                LocalBench.median(identity).inSeconds * 1e6))
        // The transport's floor, in the same run: a submit→result is four one-way hops (client →
        // scheduler → worker → scheduler → client), i.e. two round trips of the wire's framing,
        // over the socket kind the cluster uses.
        let directory = try PrivateDirectory(prefix: "drover-bench")
        defer { directory.remove() }
        let floorKind: TransportKind = transport == .unix ? .leanUDS : .leanTCP
        let floor = try await floorKind.withConnection(socketPath: directory.path + "/floor.sock") { connection in
            _ = try await connection.exchange(TransportBench.commands(count: 1, first: 0))
            var times: [Duration] = []
            for index in 0..<500 {
                let start = ContinuousClock.now
                _ = try await connection.exchange(TransportBench.commands(count: 1, first: index))
                times.append(ContinuousClock.now - start)
            }
            return LocalBench.median(times)
        }
        print(
            String(
                format: "(b) floor: one length-prefixed round trip over "
                    + (transport == .unix ? "a Unix socket" : "loopback TCP")
                    + " (a peer that does no work) takes %.0f µs (median); submit→result makes two, %.0f µs",
                floor.inSeconds * 1e6, 2 * floor.inSeconds * 1e6))
        latencies.sort()
        let p99 = latencies[min(latencies.count - 1, latencies.count * 99 / 100)]
        return [
            Figure(
                bench: "submit_result", label: "(b) submit→result, median", unit: "µs",
                value: LocalBench.median(latencies).inSeconds * 1e6, higherIsBetter: false, target: "<= 250",
                daskMatch: ["bench": "submit_result"], daskField: "median_us"),
            Figure(
                bench: "submit_result", label: "(b) submit→result, p99", unit: "µs",
                value: p99.inSeconds * 1e6, higherIsBetter: false, target: "",
                daskMatch: ["bench": "submit_result"], daskField: "p99_us"),
        ]
    }

    /// (c) A binary tree of `plus` over `leaves` no-op leaves, submitted level by level as futures.
    func treeReduce(_ client: Client) async throws -> [Figure] {
        var times: [Duration] = []
        for _ in 0..<repeats {
            let start = ContinuousClock.now
            var level = try client.map(Builtins.noop, Array(0..<leaves), pure: false)
            while level.count > 1 {
                var next: [Future<Int>] = []
                next.reserveCapacity((level.count + 1) / 2)
                for index in stride(from: 0, to: level.count - 1, by: 2) {
                    next.append(try client.submit(Builtins.plus, level[index], level[index + 1], pure: false))
                }
                if level.count % 2 == 1 { next.append(level[level.count - 1]) }
                level = next
            }
            let total = try await level[0].result()
            times.append(ContinuousClock.now - start)
            guard total == leaves * (leaves - 1) / 2 else { throw ValidationError("tree reduction gave \(total)") }
            level = []
            try await Self.waitUntilReleased(client)
        }
        let tasks = 2 * leaves - 1
        return [
            Figure(
                bench: "tree_reduce", label: "(c) tree reduction, \(leaves) leaves", unit: "tasks/s",
                value: Double(tasks) / LocalBench.median(times).inSeconds, higherIsBetter: true, target: ">= 50000",
                daskMatch: ["bench": "tree_reduce"], daskField: "tasks_per_s")
        ]
    }

    /// (d) Bytes made on one worker, counted on the other: the consumer's submit→result is the transfer.
    func transfer(_ client: Client) async throws -> [Figure] {
        let workers = client.workerAddresses.sorted()
        guard workers.count >= 2 else { throw ValidationError("the transfer needs two workers") }
        let size = transferMib << 20
        var remote: [Duration] = []
        var local: [Duration] = []
        var kernel = KernelMemoryEvents()
        for _ in 0..<repeats {
            let produced = try client.submit(Builtins.bytes, size, pure: false, workers: [workers[0]])
            try await client.wait([produced])
            for (target, into) in [(workers[0], 0), (workers[1], 1)] {
                let before = KernelMemoryEvents.now()
                let start = ContinuousClock.now
                let counted = try await client.submit(Builtins.countBytes, produced, pure: false, workers: [target])
                    .result()
                let elapsed = ContinuousClock.now - start
                guard counted == size else { throw ValidationError("the consumer counted \(counted) bytes") }
                if into == 0 {
                    local.append(elapsed)
                } else {
                    remote.append(elapsed)
                    kernel += KernelMemoryEvents.now() - before
                }
            }
        }
        let seconds = LocalBench.median(remote).inSeconds
        print(
            String(
                format: "(d) %d MiB: consumer on the other worker %.3f s, on the producer itself %.3f s; "
                    + "meanwhile (machine-wide) %d direct compaction stalls, %d huge-page faults fell back to 4 KiB",
                transferMib, seconds, LocalBench.median(local).inSeconds, kernel.compactionStalls,
                kernel.hugePageFallbacks))
        return [
            Figure(
                bench: "transfer", label: "(d) \(transferMib) MiB worker→worker", unit: "MiB/s",
                value: Double(transferMib) / seconds, higherIsBetter: true, target: ">= 2560",
                daskMatch: ["bench": "transfer", "kind": "bytes"], daskField: "mib_per_s")
        ]
    }

    /// (e) `Client.local(workers: 4)` until every worker has registered.
    func startup() async throws -> [Figure] {
        var times: [Duration] = []
        for _ in 0..<repeats {
            let start = ContinuousClock.now
            let (client, cluster) = try await Client.local(
                workers: 4, threadsPerWorker: 1, insecurePlaintext: true, transport: transport)
            times.append(ContinuousClock.now - start)
            await client.close()
            cluster.close()
        }
        return [
            Figure(
                bench: "startup", label: "(e) Client.local(workers: 4)", unit: "ms",
                value: LocalBench.median(times).inSeconds * 1e3, higherIsBetter: false, target: "<= 100",
                daskMatch: ["bench": "startup"], daskField: "seconds", daskScale: 1000)
        ]
    }

    /// (f) The scheduler's resident memory per finished task that a future holds.
    func schedulerMemory() async throws -> [Figure] {
        let (client, cluster) = try await Client.local(
            workers: 2, threadsPerWorker: 1, insecurePlaintext: true, transport: transport)
        defer { cluster.close() }
        _ = try await client.gather(try client.map(Builtins.noop, Array(0..<1000), pure: false))
        try await Self.waitUntilReleased(client)
        let before = ProcessMemory.residentBytes(of: cluster.schedulerPID) ?? 0
        let futures = try client.map(Builtins.noop, Array(0..<held), pure: false)
        try await client.wait(futures)
        try await Task.sleep(for: .seconds(1))
        let after = ProcessMemory.residentBytes(of: cluster.schedulerPID) ?? 0
        withExtendedLifetime(futures) {}
        await client.close()
        print("(f) scheduler RSS \(before >> 20) MiB before, \(after >> 20) MiB with \(held) finished tasks held")
        return [
            Figure(
                bench: "scheduler_rss", label: "(f) scheduler memory per held task", unit: "B",
                value: Double(after - before) / Double(held), higherIsBetter: false, target: "<= 300",
                daskMatch: ["bench": "scheduler_rss"], daskField: "bytes_per_task")
        ]
    }

    /// `map` + `gather` of each of `scaleTasks` no-ops, once each, on one cluster: the time, and
    /// the scheduler's resident memory while the client still holds the results.
    func scale() async throws -> [Figure] {
        let (client, cluster) = try await Client.local(
            workers: 2, threadsPerWorker: 1, insecurePlaintext: true, transport: transport)
        defer { cluster.close() }
        var figures: [Figure] = []
        let idle = ProcessMemory.residentBytes(of: cluster.schedulerPID) ?? 0
        print("(scale) scheduler RSS \(idle >> 20) MiB idle")
        for count in scaleTasks.split(separator: ",").compactMap({ Int($0) }) {
            let start = ContinuousClock.now
            var futures = try client.map(Builtins.noop, Array(0..<count), pure: false)
            let values = try await client.gather(futures)
            let elapsed = ContinuousClock.now - start
            let held = ProcessMemory.residentBytes(of: cluster.schedulerPID) ?? 0
            guard values.count == count else { throw ValidationError("gather returned \(values.count) values") }
            print(
                String(
                    format: "(scale) %d no-ops: %.2f s, %.0f tasks/s; scheduler RSS %d MiB with them held",
                    count, elapsed.inSeconds, Double(count) / elapsed.inSeconds, held >> 20))
            futures = []
            try await Self.waitUntilReleased(client)
            figures += [
                Figure(
                    bench: "scale", label: "(scale) map+gather \(count) no-ops", unit: "s",
                    value: elapsed.inSeconds, higherIsBetter: false, target: "",
                    daskMatch: ["bench": "scale"], daskField: "-"),
                Figure(
                    bench: "scale", label: "(scale) scheduler RSS, \(count) held", unit: "MiB",
                    value: Double(held >> 20), higherIsBetter: false, target: count >= 1_000_000 ? "<= 300" : "",
                    daskMatch: ["bench": "scale"], daskField: "-"),
            ]
        }
        await client.close()
        return figures
    }

    // MARK: - Helpers

    /// Waits until the scheduler has forgotten every task (released futures are freed asynchronously).
    static func waitUntilReleased(_ client: Client) async throws {
        for _ in 0..<1000 where try await client.status().tasks > 0 {
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    static func format(_ value: Double) -> String {
        value >= 100 ? String(Int(value.rounded())) : String(format: "%.2f", value)
    }
}
