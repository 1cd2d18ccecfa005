import ArgumentParser
import DroverClient
import DroverCore
import DroverLocal
import Foundation

/// `drover bench dashboard`: the cluster's throughput and latency workloads with the dashboard
/// off, then on with headless Chromium showing `/status` throughout, in one run.
struct DashboardBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Cluster workloads (a)-(c) with the dashboard off, then on with browsers showing /status.",
        discussion: "Each mode on a fresh local cluster of 2 workers x 1 thread. Browsers: Debian's chromium, headless."
    )

    @Option(help: "Task count of map+gather.")
    var mapTasks = 10_000

    @Option(help: "Sequential submit→result round trips.")
    var sequential = 1000

    @Option(help: "Leaves of the binary tree reduction.")
    var leaves = 8192

    @Option(help: "Runs per measurement; the median is reported.")
    var repeats = 3

    @Option(help: "Headless browsers showing /status while the dashboard is on.")
    var browsers = 1

    func run() async throws {
        #if DEBUG
            print("warning: this is a debug build; measure with `swift run -c release drover bench dashboard`")
        #endif
        guard let chromium = Self.chromium() else {
            throw CommandFailure("chromium is not installed (apt-get install chromium); it plays the browser")
        }
        let bench = try ClusterBench.parse([
            "--map-tasks", String(mapTasks), "--sequential", String(sequential), "--leaves", String(leaves),
            "--repeats", String(repeats),
        ])
        // Off first and last: the mean of the two is the baseline, so that whatever drifts during
        // the run (a cold first cluster, other work on the machine) is not charged to one mode.
        let first = try await measure(bench, dashboard: false, watcher: .none)
        let idle = try await measure(bench, dashboard: true, watcher: .none)
        let streamed = try await measure(bench, dashboard: true, watcher: .stream)
        let watched = try await measure(bench, dashboard: true, watcher: .browser(chromium))
        let last = try await measure(bench, dashboard: false, watcher: .none)
        let off = zip(first, last).map { first, last in
            var mean = first
            mean.value = (first.value + last.value) / 2
            return mean
        }
        func cell(_ figure: ClusterBench.Figure, against off: ClusterBench.Figure) -> String {
            // The ratio is the cost: above 1, slower than with the dashboard off.
            let cost = off.higherIsBetter ? off.value / figure.value : figure.value / off.value
            return ClusterBench.format(figure.value) + " " + figure.unit + String(format: " (%.2f)", cost)
        }
        let rows = off.indices.map { index -> [String] in
            [
                off[index].label,
                ClusterBench.format(off[index].value) + " " + off[index].unit + " ("
                    + ClusterBench.format(first[index].value) + ", " + ClusterBench.format(last[index].value) + ")",
                cell(idle[index], against: off[index]), cell(streamed[index], against: off[index]),
                cell(watched[index], against: off[index]),
            ]
        }
        print(
            Table(
                headers: [
                    "workload", "dashboard off (first, last)", "on, nobody looking (cost)",
                    "on, curl reading the stream (cost)",
                    "on, \(browsers) browser(s) on /status (cost)",
                ],
                rows: rows
            ).render())
    }

    /// Who looks at the dashboard during a measurement.
    private enum Watcher {
        case none
        /// `curl` reading `/api/v1/stream` (a snapshot every 500 ms, nothing rendered): the
        /// scheduler's side of being watched, without a browser's own CPU.
        case stream
        /// Headless Chromium showing `/status`.
        case browser(String)
    }

    private func measure(
        _ bench: ClusterBench, dashboard: Bool, watcher: Watcher
    ) async throws -> [ClusterBench.Figure] {
        let cluster = try await LocalCluster(workers: 2, threadsPerWorker: 1, dashboard: dashboard)
        defer { cluster.close() }
        let client = try await Client.connect(cluster.address, security: cluster.security, setAsDefault: false)
        try await client.waitForWorkers(2)
        var pages: [pid_t] = []
        let profiles = FileManager.default.temporaryDirectory.appendingPathComponent(
            "drover-bench-chromium-\(getpid())")
        defer {
            for pid in pages {
                kill(pid, SIGTERM)
                _ = Spawn.wait(pid)
            }
            try? FileManager.default.removeItem(at: profiles)
        }
        switch (watcher, cluster.dashboardURL) {
        case (.stream, let url?):
            let stream = url.replacingOccurrences(of: "/status", with: "/api/v1/stream")
            pages.append(
                try Spawn.start(
                    "/usr/bin/curl", arguments: ["-sN", stream],
                    descriptors: [(Self.devNull, 0), (Self.devNull, 1), (Self.devNull, 2)]))
            try await Task.sleep(for: .seconds(1))
            print("dashboard on: curl reading \(stream)")
        case (.browser(let chromium), let url?):
            for index in 0..<browsers {
                let profile = profiles.appendingPathComponent("\(index)").path
                pages.append(
                    try Spawn.start(
                        chromium,
                        arguments: [
                            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
                            "--user-data-dir=\(profile)", "--remote-debugging-port=0", url,
                        ],
                        descriptors: [(Self.devNull, 0), (Self.devNull, 1), (Self.devNull, 2)]))
            }
            try await Task.sleep(for: .seconds(3))  // the page loaded and streaming
            print("dashboard on: \(browsers) headless chromium on \(url)")
        default:
            print(dashboard ? "dashboard on, nobody looking" : "dashboard off")
        }
        var figures = try await bench.mapGather(client)
        figures += try await bench.submitResult(client)
        figures += try await bench.treeReduce(client)
        await client.close()
        return figures
    }

    private static let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)

    private static func chromium() -> String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}
