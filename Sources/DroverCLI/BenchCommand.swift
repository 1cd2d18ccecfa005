import ArgumentParser
import DroverCore
import DroverLocal
import Foundation

/// `drover bench`: benchmarks. Run them from a release build (`swift run -c release drover bench …`).
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure Drover's performance (build with -c release).",
        subcommands: [
            LocalBench.self, ClusterBench.self, SchedulerBench.self, TransferBench.self, TransportBench.self,
            NannyBench.self, DashboardBench.self,
        ]
    )
}

/// Scheduler overhead per task of the single-machine schedulers on no-op graphs.
struct LocalBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "local",
        abstract: "Scheduler overhead per task of no-op graphs on the single-threaded and threads schedulers."
    )

    @Option(help: "Tasks per graph.")
    var tasks = 100_000

    @Option(help: "Runs per measurement; the median is reported.")
    var repeats = 5

    @Option(help: "Workers of the threads scheduler (default: one per core).")
    var workers: Int?

    @Option(help: "Only this scheduler: single-threaded or threads.")
    var only: String?

    @Flag(help: "Also run the same graphs on Dask (needs $DROVER_DASK_PYTHON or .venv-bench; see scripts/bench).")
    var compareDask = false

    func run() async throws {
        #if DEBUG
            print("warning: this is a debug build; measure with `swift run -c release drover bench local`")
        #endif
        let threads = workers ?? ProcessInfo.processInfo.activeProcessorCount
        print(
            "\(tasks) no-op tasks per graph, median of \(repeats) runs, \(ProcessInfo.processInfo.activeProcessorCount) cores"
        )
        print("compute µs/task = wall time of compute() (plan + schedule + run + collect) / tasks")
        print("")
        var rows: [[String]] = []
        for shape in Shape.allCases {
            var buildTimes: [Duration] = []
            var graph = shape.build(tasks)
            for _ in 0..<repeats {
                let start = ContinuousClock.now
                graph = shape.build(tasks)
                buildTimes.append(ContinuousClock.now - start)
            }
            let schedulers = [("single-threaded", Scheduler.singleThreaded), ("threads", .threads(workers: threads))]
            for (label, scheduler) in schedulers where only == nil || only == label {
                var times: [Duration] = []
                for _ in 0..<repeats {
                    let start = ContinuousClock.now
                    let value = try await graph.compute(scheduler: scheduler)
                    times.append(ContinuousClock.now - start)
                    precondition(value == shape.expected(tasks), "wrong result \(value) for \(shape)")
                }
                rows.append([
                    shape.rawValue, label, label == "threads" ? String(threads) : "1",
                    Self.format(Self.median(times), per: tasks), Self.format(Self.median(buildTimes), per: tasks),
                ])
            }
        }
        var headers = ["graph", "scheduler", "workers", "compute µs/task", "build µs/task"]
        if compareDask {
            let dask = try await PeerComparison.dask.run(
                script: "scripts/dask/local_bench.py",
                arguments: ["--tasks", String(tasks), "--repeats", String(repeats), "--workers", String(threads)]
            )
            headers += ["dask µs/task", "dask / drover"]
            for index in rows.indices {
                let row = rows[index]
                guard let theirs = dask.first(where: { $0["graph"] == row[0] && $0["scheduler"] == row[1] }),
                    let theirMicros = Double(theirs["us_per_task"] ?? ""), let ourMicros = Double(row[3])
                else { continue }
                rows[index] += [String(format: "%.2f", theirMicros), String(format: "%.1fx", theirMicros / ourMicros)]
            }
            if let version = dask.first?["dask"] {
                print("Dask \(version), same graphs (dask.local.get_sync, dask.threaded.get)")
            }
        }
        print(Table(headers: headers, rows: rows).render())
    }

    enum Shape: String, CaseIterable {
        /// n independent no-ops, then one task over all their results.
        case wide
        /// n no-ops, each taking the previous one's result.
        case chain

        func build(_ count: Int) -> Delayed<Int> {
            switch self {
            case .wide:
                return Builtins.noopAll.delayed((0..<(count - 1)).map { Builtins.noop.delayed($0) })
            case .chain:
                var last = Builtins.noop.delayed(0)
                for _ in 1..<count { last = Builtins.noop.delayed(last) }
                return last
            }
        }

        func expected(_ count: Int) -> Int { 0 }
    }

    static func median(_ times: [Duration]) -> Duration {
        times.sorted()[times.count / 2]
    }

    static func format(_ duration: Duration, per count: Int) -> String {
        let micros = duration.inSeconds * 1e6 / Double(count)
        return String(format: "%.2f", micros)
    }
}
