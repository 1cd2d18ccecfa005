import ArgumentParser
import DroverClient
import DroverCore
import Foundation
import Glibc

/// `drover bench transfer`: a value made by a task on one worker and consumed by a task on the
/// other worker of the same host (or, with `--across-namespaces`, of another network namespace:
/// another "host"), for `Data`, `[UInt8]` and `[Double]` at several sizes, beside this machine's
/// memcpy floor (and across namespaces the raw TCP floor between them) measured in the same run.
struct TransferBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transfer",
        abstract: "Worker-to-worker transfer of Data, [UInt8] and [Double], beside memcpy and raw TCP.",
        discussion: """
            A task on worker 0 makes the value; the run waits for it; then a task on worker 1 takes it \
            as its argument and returns its size. The figure is size / (submit → result of the \
            consumer), median of --repeats runs: it includes scheduling, the transfer and decoding into \
            the consumer's type. The cluster is 2 workers x 1 thread, plaintext (as `bench cluster`). \
            With --across-namespaces (root), the two workers run in two network namespaces joined by a \
            veth pair, and the raw TCP throughput between them is measured in the same run.
            """
    )

    @Option(help: "Sizes in MiB, comma-separated.")
    var sizes = "1,64,256"

    @Flag(help: "Also move 1 GiB values (needs a few GiB of free memory).")
    var gib = false

    @Option(help: "Runs per measurement; the median is reported.")
    var repeats = 3

    @Option(help: "Only these kinds, comma-separated: data, uint8, double, packed.")
    var only: String?

    @Flag(
        help: """
            Also run every transfer the old way: with shared memory off (DROVER_SHARED_MEMORY=off) on one host, \
            with DROVER_PROTOCOL=grpc across namespaces (GetData messages, no bulk stream).
            """)
    var getData = false

    @Flag(
        help:
            "Put the two workers in two network namespaces (two hosts); needs root. Dask and Ray across them too."
    )
    var acrossNamespaces = false

    @Option(help: .hidden)
    var insideNamespaces: String?

    @Flag(help: "Also run Ray (bytes and numpy arrays, its shared-memory object store) on the same sizes (.venv-ray).")
    var compareRay = false

    @Flag(help: "Also run Dask (bytes and numpy arrays) on the same sizes (needs scripts/dask-venv).")
    var compareDask = false

    func run() async throws {
        #if DEBUG
            print("warning: this is a debug build; measure with `swift run -c release drover bench transfer`")
        #endif
        if acrossNamespaces, insideNamespaces == nil {
            try await runAcrossNamespaces()
            return
        }
        let hosts = try insideNamespaces.map {
            guard let hosts = NamespaceHosts(argument: $0) else { throw ValidationError("--inside-namespaces \($0)") }
            return hosts
        }
        var mebibytes = sizes.split(separator: ",").compactMap { Int($0) }
        if gib { mebibytes.append(1024) }
        let kinds = Kind.allCases.filter { only == nil || only!.split(separator: ",").contains(Substring($0.rawValue)) }
        print("\(ProcessInfo.processInfo.activeProcessorCount) cores; median of \(repeats) runs")
        let floor = MemoryFloor.measure(bytes: 256 << 20, repeats: repeats)
        print(
            String(
                format:
                    "floor (256 MiB, this run): memcpy into a reused buffer %.0f MiB/s, into fresh mmap %.0f MiB/s, "
                    + "into fresh mmap with MADV_HUGEPAGE %.0f MiB/s",
                floor.reused, floor.fresh, floor.freshHuge))
        var tcp: Double?
        if let hosts {
            let bytes = (mebibytes.max() ?? 256) << 20
            tcp = try await TCPFloor.measure(
                bytes: bytes, repeats: repeats, namespace: hosts.second, host: hosts.secondAddress)
            print(
                "floor (\(bytes >> 20) MiB, this run): raw TCP \(hosts.firstAddress) -> \(hosts.secondAddress) into a "
                    + String(format: "reused buffer %.0f MiB/s", tcp!))
        }
        var rows: [[String]] = []
        var figures: [String: Double] = [:]
        let measured: [String: Timings]
        var baseline: [String: Timings] = [:]
        if let hosts {
            measured = try await runAcrossHosts(hosts, kinds: kinds, mebibytes: mebibytes, grpc: false)
            if getData { baseline = try await runAcrossHosts(hosts, kinds: kinds, mebibytes: mebibytes, grpc: true) }
        } else {
            measured = try await runCluster(kinds: kinds, mebibytes: mebibytes, sharedMemory: true)
            if getData { baseline = try await runCluster(kinds: kinds, mebibytes: mebibytes, sharedMemory: false) }
        }
        for kind in kinds {
            for size in mebibytes {
                let name = "\(kind.rawValue)/\(size)"
                guard let times = measured[name] else { continue }
                figures[name] = Double(size) / times.remote
                var row = [
                    kind.typeName, "\(size) MiB", String(format: "%.0f", Double(size) / times.remote),
                    String(format: "%.3f", times.remote), String(format: "%.3f", times.local),
                    String(format: "%.3f", times.producer),
                ]
                if let tcp { row.append(String(format: "%.2f", Double(size) / times.remote / tcp)) }
                row.append(times.kernel.cell)
                if let before = baseline[name] {
                    row += [
                        String(format: "%.0f", Double(size) / before.remote),
                        String(format: "%.1fx", before.remote / times.remote),
                    ]
                }
                rows.append(row)
            }
        }
        var headers = [
            "value", "size", "MiB/s", hosts == nil ? "other worker s" : "other host s", "same worker s", "producer s",
        ]
        if tcp != nil { headers.append("/ raw TCP") }
        // During the consumers on the other worker, machine-wide: direct compaction stalls / huge
        // page faults that fell back to 4 KiB pages (a copy into fresh memory then runs slow).
        headers.append("stalls/fallbacks")
        // The old way: on one host, sharing off (the bulk stream on loopback); across, GetData.
        if getData {
            headers += hosts == nil ? ["sharing off MiB/s", "vs sharing off"] : ["GetData MiB/s", "vs GetData"]
        }
        if compareDask {
            let dask = try await peerLines(
                .dask, script: "scripts/dask/transfer_bench.py", hosts: hosts, mebibytes: mebibytes,
                across: Self.runDask,
                described: (
                    "(distributed.LocalCluster, 2 processes)",
                    "(a scheduler and a worker in the first namespace, a worker in the second)"
                ))
            headers += ["dask value", "dask MiB/s", "drover / dask"]
            let cells = Self.comparison(dask, rows: rows.count, kinds: kinds, mebibytes: mebibytes, figures: figures)
            for index in rows.indices { rows[index] += cells[index] }
        }
        if compareRay {
            let ray = try await peerLines(
                .ray, script: "scripts/ray/transfer_bench.py", hosts: hosts, mebibytes: mebibytes,
                across: Self.runRay,
                described: (
                    "(one local node, num_cpus=2)",
                    "(a head node in the first namespace, a node in the second, one CPU each)"
                ))
            headers += ["ray MiB/s", "drover / ray"]
            let cells = Self.comparison(
                ray, rows: rows.count, kinds: kinds, mebibytes: mebibytes, figures: figures, namingValues: false)
            for index in rows.indices { rows[index] += cells[index] }
        }
        print(Table(headers: headers, rows: rows).render())
    }

    /// A peer's JSON lines for the same sizes and repeats: on one host from its script alone (a
    /// local cluster of its own), across the namespaces from `across`, which starts the peer on
    /// the two hosts first. Prints the peer's version and set-up (`described`: one host, two).
    func peerLines(
        _ peer: PeerComparison, script: String, hosts: NamespaceHosts?, mebibytes: [Int],
        across: (NamespaceHosts, [String]) async throws -> [[String: String]],
        described: (oneHost: String, twoHosts: String)
    ) async throws -> [[String: String]] {
        let arguments = ["--sizes", mebibytes.map(String.init).joined(separator: ","), "--repeats", String(repeats)]
        let lines =
            if let hosts {
                try await across(hosts, arguments)
            } else {
                try await peer.run(script: script, arguments: arguments)
            }
        if let version = lines.first?[peer.name.lowercased()] {
            print("\(peer.name) \(version) " + (hosts == nil ? described.oneHost : described.twoHosts))
        }
        return lines
    }

    /// Every kind and size on a fresh 2-worker cluster, with shared memory on or off (the workers
    /// inherit `DROVER_SHARED_MEMORY`); times by "kind/size".
    func runCluster(
        kinds: [Kind], mebibytes: [Int], sharedMemory: Bool
    ) async throws -> [String: Timings] {
        if sharedMemory { unsetenv("DROVER_SHARED_MEMORY") } else { setenv("DROVER_SHARED_MEMORY", "off", 1) }
        defer { unsetenv("DROVER_SHARED_MEMORY") }
        let (client, cluster) = try await Client.local(workers: 2, threadsPerWorker: 1, insecurePlaintext: true)
        var times: [String: Timings] = [:]
        do {
            let workers = client.workerAddresses.sorted()
            guard workers.count >= 2 else { throw ValidationError("the transfer needs two workers") }
            times = try await measureAll(kinds: kinds, mebibytes: mebibytes, client: client, workers: workers)
        } catch {
            await client.close()
            cluster.close()
            throw error
        }
        await client.close()
        cluster.close()
        return times
    }

    /// Every kind at every size, by "kind/size" (see ``measure(_:mebibytes:client:workers:)``).
    func measureAll(kinds: [Kind], mebibytes: [Int], client: Client, workers: [String]) async throws
        -> [String: Timings]
    {
        var times: [String: Timings] = [:]
        for kind in kinds {
            for size in mebibytes {
                times["\(kind.rawValue)/\(size)"] = try await measure(
                    kind, mebibytes: size, client: client, workers: workers)
            }
        }
        return times
    }

    /// The kinds of value moved.
    enum Kind: String, CaseIterable {
        case data, uint8, double
        /// `[Double]` made, consumed as ``PackedArray`` (read in place, no copy).
        case packed

        var typeName: String {
            switch self {
            case .data: "Data"
            case .uint8: "[UInt8]"
            case .double: "[Double]"
            case .packed: "PackedArray<Double>"
            }
        }

        /// Dask's closest workload: Python bytes, or a numpy array of the same element type.
        var daskKind: String {
            switch self {
            case .data: "bytes"
            case .uint8: "numpy-uint8"
            case .double, .packed: "numpy-float64"
            }
        }
    }

    /// Row `index`'s figure from a peer's JSON lines (same value kind and size) and ours, in MiB/s.
    /// For each of the table's `rows` (kinds by sizes): the peer's value kind (with
    /// `namingValues`), its MiB/s and Drover's ratio to it, or dashes where either is missing.
    static func comparison(
        _ lines: [[String: String]], rows: Int, kinds: [Kind], mebibytes: [Int], figures: [String: Double],
        namingValues: Bool = true
    ) -> [[String]] {
        (0..<rows).map { index in
            let kind = kinds[index / mebibytes.count]
            let size = mebibytes[index % mebibytes.count]
            let line = lines.first { $0["kind"] == kind.daskKind && $0["mib"] == String(size) }
            let named = namingValues ? [kind.daskKind] : []
            guard let theirs = line.flatMap({ $0["mib_per_s"] }).flatMap(Double.init), theirs > 0,
                let ours = figures["\(kind.rawValue)/\(size)"]
            else { return named.map { _ in "-" } + ["-", "-"] }
            return named + [String(format: "%.0f", theirs), String(format: "%.2fx", ours / theirs)]
        }
    }

    /// Makes a value with `make(argument)` on the worker `producer`, then counts it with `count`
    /// on `consumer`: the time of each, and what was counted.
    static func produceAndConsume<Made: TaskValue, Consumed: TaskValue>(
        _ make: TaskFunction<Int, Made>, _ argument: Int, _ count: TaskFunction<Consumed, Int>, client: Client,
        on producer: String, at consumer: String
    ) async throws -> (producer: Duration, consumer: Duration, counted: Int) {
        let made = ContinuousClock.now
        let produced = try client.submit(make, argument, pure: false, workers: [producer])
        try await client.wait([produced])
        let producerTime = ContinuousClock.now - made
        let start = ContinuousClock.now
        let counted = try await client.submit(
            count, produced.viewed(as: Consumed.self), pure: false, workers: [consumer]
        ).result()
        return (producerTime, ContinuousClock.now - start, counted)
    }

    /// One kind and size's figures (see ``measure(_:mebibytes:client:workers:)``).
    struct Timings {
        /// Median seconds of the consumer's submit→result on the other worker, and on the
        /// producer itself.
        var remote: Double
        var local: Double
        /// Median seconds of the producer's submit→finished (making the value and storing it).
        var producer: Double
        /// What the kernel did while the consumers on the other worker ran, over every repeat.
        var kernel: KernelMemoryEvents
    }

    /// The medians of every repeat, and the kernel's memory events during the remote consumers.
    func measure(
        _ kind: Kind, mebibytes: Int, client: Client, workers: [String]
    ) async throws -> Timings {
        let bytes = mebibytes << 20
        var remote: [Duration] = []
        var local: [Duration] = []
        var producer: [Duration] = []
        var kernel = KernelMemoryEvents()
        for _ in 0..<repeats {
            for (index, target) in workers.prefix(2).enumerated().reversed() {
                let before = KernelMemoryEvents.now()
                let timed =
                    switch kind {
                    case .data:
                        try await Self.produceAndConsume(
                            Builtins.data, bytes, Builtins.countData, client: client, on: workers[0], at: target)
                    case .uint8:
                        try await Self.produceAndConsume(
                            Builtins.bytes, bytes, Builtins.countBytes, client: client, on: workers[0], at: target)
                    case .double:
                        try await Self.produceAndConsume(
                            Builtins.doubles, bytes / 8, Builtins.countDoubles, client: client, on: workers[0],
                            at: target)
                    case .packed:
                        try await Self.produceAndConsume(
                            Builtins.doubles, bytes / 8, Builtins.countPackedDoubles, client: client,
                            on: workers[0], at: target)
                    }
                producer.append(timed.producer)
                let (elapsed, counted) = (timed.consumer, timed.counted)
                guard counted == bytes else { throw ValidationError("the consumer counted \(counted) bytes") }
                if index == 0 {
                    local.append(elapsed)
                } else {
                    remote.append(elapsed)
                    kernel += KernelMemoryEvents.now() - before
                }
                try await ClusterBench.waitUntilReleased(client)
            }
        }
        return Timings(
            remote: LocalBench.median(remote).inSeconds, local: LocalBench.median(local).inSeconds,
            producer: LocalBench.median(producer).inSeconds, kernel: kernel)
    }
}

/// Counters of the kernel's memory management (`/proc/vmstat`, the whole machine's) that explain
/// a slow copy into fresh memory: a huge page the kernel had to compact memory for first (a
/// direct compaction stall), or could not find (the fault fell back to 4 KiB pages).
struct KernelMemoryEvents {
    var compactionStalls = 0
    var hugePageFallbacks = 0

    /// The counters now (zero where the kernel has none).
    static func now() -> KernelMemoryEvents {
        var events = KernelMemoryEvents()
        guard let text = try? String(contentsOfFile: "/proc/vmstat", encoding: .utf8) else { return events }
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count == 2, let value = Int(parts[1]) else { continue }
            switch parts[0] {
            case "compact_stall": events.compactionStalls = value
            case "thp_fault_fallback": events.hugePageFallbacks = value
            default: break
            }
        }
        return events
    }

    static func - (after: KernelMemoryEvents, before: KernelMemoryEvents) -> KernelMemoryEvents {
        KernelMemoryEvents(
            compactionStalls: after.compactionStalls - before.compactionStalls,
            hugePageFallbacks: after.hugePageFallbacks - before.hugePageFallbacks)
    }

    static func += (total: inout KernelMemoryEvents, more: KernelMemoryEvents) {
        total.compactionStalls += more.compactionStalls
        total.hugePageFallbacks += more.hugePageFallbacks
    }

    /// "stalls/fallbacks", for a table cell.
    var cell: String { "\(compactionStalls)/\(hugePageFallbacks)" }
}

/// This machine's copy rates, measured in the run that reports a transfer: the floor any copy pays.
struct MemoryFloor {
    /// MiB/s of memcpy into a buffer already mapped and touched.
    var reused: Double
    /// MiB/s of memcpy into memory freshly mapped (every page faulted in by the copy).
    var fresh: Double
    /// The same with transparent huge pages asked for (`madvise(MADV_HUGEPAGE)`), as the decoding
    /// of large arrays does.
    var freshHuge: Double

    static func measure(bytes: Int, repeats: Int) -> MemoryFloor {
        let source = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 4096)
        let target = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 4096)
        defer {
            source.deallocate()
            target.deallocate()
        }
        memset(source, 7, bytes)
        memset(target, 0, bytes)
        var reused: [Duration] = []
        var fresh: [Duration] = []
        var freshHuge: [Duration] = []
        for _ in 0..<max(1, repeats) {
            var start = ContinuousClock.now
            memcpy(target, source, bytes)
            reused.append(ContinuousClock.now - start)
            guard let mapped = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
                mapped != MAP_FAILED
            else { continue }
            start = ContinuousClock.now
            memcpy(mapped, source, bytes)
            fresh.append(ContinuousClock.now - start)
            munmap(mapped, bytes)
            // Linux 6.7 and later place an anonymous mapping this large on a 2 MiB boundary.
            guard let huge = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
                huge != MAP_FAILED
            else { continue }
            _ = madvise(huge, bytes, MADV_HUGEPAGE)
            start = ContinuousClock.now
            memcpy(huge, source, bytes)
            freshHuge.append(ContinuousClock.now - start)
            munmap(huge, bytes)
        }
        let mebibytes = Double(bytes) / Double(1 << 20)
        return MemoryFloor(
            reused: mebibytes / LocalBench.median(reused).inSeconds,
            fresh: fresh.isEmpty ? 0 : mebibytes / LocalBench.median(fresh).inSeconds,
            freshHuge: freshHuge.isEmpty ? 0 : mebibytes / LocalBench.median(freshHuge).inSeconds)
    }
}
