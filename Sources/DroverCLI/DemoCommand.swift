import ArgumentParser
import DroverCore
import DroverLocal
import Foundation

/// `drover demo`: the tutorial (`shared/seed`), in Swift.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the tutorial's programs and show results and timings.",
        subcommands: [LocalDemo.self],
        defaultSubcommand: LocalDemo.self
    )
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
        let (seconds, attoseconds) = duration.components
        let value = Double(seconds) + Double(attoseconds) / 1e18
        return String(format: "%.2f", value)
    }
}
