import ArgumentParser
import DroverClient
import DroverCore
import Foundation

/// `drover demo watch`: the tutorial's exercise scaled up, long enough to watch on the dashboard.
struct WatchDemo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "The exercise over range(N) on a cluster, slow enough to watch on the dashboard (/status).",
        discussion: "sum(add(inc(x), double(x)) for x in range(N)); every step sleeps 0.5 s."
    )

    @Option(help: "An existing cluster's scheduler (host:port); default: a local cluster of 2 workers × 2 threads.")
    var scheduler: String?

    @Option(help: "How many values (N).")
    var size = 40

    @Option(help: "Seconds to keep the results (the futures) after printing, to see them finished on the dashboard.")
    var keep = 0.0

    func run() async throws {
        guard size >= 1 else { throw ValidationError("--size must be at least 1") }
        let (client, cluster) = try await demoCluster(scheduler: scheduler, workers: 2, threadsPerWorker: 2)
        defer { cluster?.close() }
        let start = ContinuousClock.now
        var output: [Future<Int>] = []
        for x in 0..<size {
            let a = try client.submit(Builtins.incHalfSecond, x)
            let b = try client.submit(Builtins.double, x)
            output.append(try client.submit(Builtins.add, a, b))
        }
        let total = try client.submit(Builtins.sum, output)
        let value = try await total.result()
        let expected = 3 * size * (size - 1) / 2 + size
        print("sum(add(inc(x), double(x)) for x in range(\(size))) = \(value) (expected \(expected))")
        print("in \(LocalDemo.seconds(ContinuousClock.now - start)) s")
        if keep > 0 {
            print("keeping the results for \(keep) s")
            fflush(nil)  // a reader of a redirected stdout sees the result now
            try await Task.sleep(for: .seconds(keep))
        }
        withExtendedLifetime((output, total)) {}
        await client.close()
        if value != expected { throw ExitCode.failure }
    }
}
