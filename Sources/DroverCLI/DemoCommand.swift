import ArgumentParser
import DroverClient
import DroverCore
import DroverLocal
import Foundation

/// `drover demo`: the tutorial (`shared/seed`), in Swift.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the tutorial's programs and show results and timings.",
        subcommands: [WholeDemo.self, LocalDemo.self, ClusterDemo.self, MemoryDemo.self, WatchDemo.self],
        defaultSubcommand: WholeDemo.self
    )
}

/// Both halves of the tutorial.
struct WholeDemo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "all",
        abstract: "The single-machine schedulers, then the distributed cluster."
    )

    func run() async throws {
        try await LocalDemo().run()
        print("")
        try await ClusterDemo.parse([]).run()
    }
}

/// The tutorial's first half: one lazy graph on each single-machine scheduler.
struct LocalDemo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "local",
        abstract: "8 x inc (1 s each) + sum on every local scheduler, then the exercise graph."
    )

    func run() async throws {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        print("Drover tutorial, single-machine schedulers (\(cores) cores)")
        print("")
        print("total = sum([inc(i) for i in range(8)]), inc sleeps 1 s")

        // The tutorial's graph: built once, computed four times.
        let total = Builtins.sum.delayed((0..<8).map { Builtins.inc.delayed($0) })

        var rows: [[String]] = []
        let runs: [(label: String, scheduler: Scheduler?, configuration: Drover.Configuration)] = [
            ("threads (default)", nil, .init()),
            ("threads", nil, .scheduler(.threads, workers: 4)),
            ("processes", .processes(workers: 4), .init()),
            ("single-threaded", .singleThreaded, .init()),
        ]
        for run in runs {
            let profiler = TaskProfiler()
            let start = ContinuousClock.now
            let value = try await Drover.withConfig(run.configuration) {
                try await total.compute(scheduler: run.scheduler, profiler: profiler)
            }
            let wall = ContinuousClock.now - start
            let scheduler = run.scheduler ?? run.configuration.scheduler
            let workers = LocalScheduler.resolvedWorkers(scheduler, configuration: run.configuration)
            rows.append([
                run.label, String(workers), String(value), Self.seconds(wall), String(profiler.processIDs.count),
            ])
        }
        print(Table(headers: ["scheduler", "workers", "result", "wall s", "processes"], rows: rows).render())
        try await exercise()
    }

    /// The tutorial's exercise: inc, double and add (0.5 s each) over range(10), then sum.
    private func exercise() async throws {
        print("")
        print("exercise: sum(add(inc(x), double(x)) for x in range(10)), each step sleeps 0.5 s")
        let output = (0..<10).map { x in
            Builtins.add.delayed(Builtins.incHalfSecond.delayed(x), Builtins.double.delayed(x))
        }
        let total = Builtins.sum.delayed(output)
        let scheduler = Scheduler.threads(workers: 8)
        let start = ContinuousClock.now
        let value = try await total.compute(scheduler: scheduler)
        let wall = ContinuousClock.now - start
        print(
            Table(
                headers: ["scheduler", "workers", "result", "wall s"],
                rows: [["threads", "8", String(value), Self.seconds(wall)]]
            ).render()
        )
    }

    static func seconds(_ duration: Duration) -> String {
        String(format: "%.2f", duration.inSeconds)
    }
}

/// The tutorial's second half: a local cluster of worker processes, futures.
struct ClusterDemo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Client.local(workers: 4): compute, submit, map + gather, the exercise with futures, release."
    )

    @Option(help: "Use the running cluster whose scheduler is at host:port instead of starting a local one.")
    var scheduler: String?

    func run() async throws {
        print("Drover tutorial, distributed scheduler")
        let clock = ContinuousClock()
        var start = clock.now
        let (client, cluster) = try await demoCluster(scheduler: scheduler, workers: 4, threadsPerWorker: 2)
        defer { cluster?.close() }
        let status = try await client.status()
        let threads = status.workers.reduce(0) { $0 + $1.threads }
        if let cluster {
            print(
                "Client.local(workers: 4): scheduler \(cluster.address), \(status.workers.count) workers, \(threads) threads, up in \(LocalDemo.seconds(clock.now - start)) s"
            )
            if let dashboard = cluster.dashboardURL { print("dashboard: \(dashboard)") }
        } else {
            print("Client.connect(\"\(scheduler ?? "")\"): \(status.workers.count) workers, \(threads) threads")
        }
        var rows: [[String]] = []

        let total = Builtins.sum.delayed((0..<8).map { Builtins.inc.delayed($0) })
        start = clock.now
        let computed = try await total.compute()  // the connected client is the default scheduler
        rows.append(["total.compute() (8 x inc, 1 s each)", String(computed), LocalDemo.seconds(clock.now - start)])

        start = clock.now
        let future = try client.submit(Builtins.inc, 1)
        let submitted = try await future.result()
        rows.append(["client.submit(inc, 1).result()", String(submitted), LocalDemo.seconds(clock.now - start)])

        start = clock.now
        var futures = try client.map(Builtins.inc, Array(0..<8))
        let gathered = try await client.gather(futures)
        rows.append(["client.gather(client.map(inc, 0..<8))", "\(gathered)", LocalDemo.seconds(clock.now - start)])

        start = clock.now
        var steps: [Future<Int>] = []
        var output: [Future<Int>] = []
        for x in 0..<10 {
            let a = try client.submit(Builtins.incHalfSecond, x)
            let b = try client.submit(Builtins.double, x)
            steps += [a, b]
            output.append(try client.submit(Builtins.add, a, b))
        }
        let sum = try client.submit(Builtins.sum, output)
        print("exercise with submit: client.progress(steps, output, [sum])")
        try await client.progress(steps, output, [sum])  // bars on a terminal, a line per function otherwise
        let exercise = try await sum.result()
        rows.append(["exercise with submit (0.5 s steps)", String(exercise), LocalDemo.seconds(clock.now - start)])
        print(Table(headers: ["call", "result", "wall s"], rows: rows).render())

        let before = try await client.status()
        futures.remove(at: 2)  // inc(2): no other future holds that key
        var after = try await client.status()
        for _ in 0..<200 where after.tasks >= before.tasks {
            try await Task.sleep(for: .milliseconds(10))
            after = try await client.status()
        }
        print(
            "del futures[2]: the cluster tracked \(before.tasks) tasks, now \(after.tasks) (its result was freed on its worker)"
        )
        withExtendedLifetime(futures) {}
        withExtendedLifetime(output) {}
        withExtendedLifetime(steps) {}
        await client.close()
    }
}

/// The client of a demo: connected to the scheduler at `scheduler` once a worker has joined (with
/// TLS when `DROVER_TLS_*` are set), or to a new local cluster (`Client.local`, TLS) when there is none.
func demoCluster(
    scheduler: String?, workers: Int, threadsPerWorker: Int, memoryLimit: String = "auto"
) async throws -> (Client, LocalCluster?) {
    guard let scheduler else {
        let (client, cluster) = try await Client.local(
            workers: workers, threadsPerWorker: threadsPerWorker, memoryLimit: memoryLimit)
        return (client, cluster)
    }
    // A TLS cluster's certificates come from the environment ($DROVER_TLS_CA_FILE, …).
    let client = try await Client.connect(scheduler, security: try TLSOptions.parse([]).security())
    try await client.waitForWorkers(1)
    return (client, nil)
}
