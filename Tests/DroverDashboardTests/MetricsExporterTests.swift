import Testing

@testable import DroverDashboard
@testable import DroverScheduler

@Suite struct MetricsExporterTests {
    private func worker(_ id: String, restarts: [String: Int] = [:], outgoing: Int64 = 0) -> ClusterSnapshot.Worker {
        ClusterSnapshot.Worker(
            id: id, address: "h:\(id)", nanny: "", threads: 2, memoryLimit: 100, memoryBytes: 50, managedBytes: 20,
            unmanagedBytes: 30, spilledBytes: 5, status: "running", isRetiring: false, processing: 3, executing: 2,
            held: 4, occupancy: 0, restarts: restarts.values.reduce(0, +), lastExitCause: "",
            restartsByKind: restarts, transfers: .init(outgoingBytes: outgoing))
    }

    private func snapshot(_ workers: [ClusterSnapshot.Worker]) -> ClusterSnapshot {
        ClusterSnapshot(
            time: 0, workers: workers, functions: [],
            totals: .init(
                workers: workers.count, threads: 2 * workers.count, clients: 0, tasks: 0,
                tasksByState: [:], memoryBytes: 0, managedBytes: 0, spilledBytes: 0, memoryLimit: 0, executing: 0,
                restarts: 0),
            events: [], taskStream: [], taskStreamCursor: 0)
    }

    @Test func seriesOfWorkersThatLeftAreRemoved() {
        let exporter = MetricsExporter()
        let both = exporter.render(snapshot([worker("a"), worker("b", restarts: ["signal": 1])]))
        #expect(both.contains(#"drover_worker_threads{worker="b"} 2.0"#))
        #expect(both.contains(#"drover_worker_restarts_total{worker="b",cause="signal"} 1.0"#))
        let one = exporter.render(snapshot([worker("a")]))
        #expect(one.contains(#"drover_worker_threads{worker="a"} 2.0"#))
        #expect(!one.contains(#"worker="b""#))
        #expect(one.contains("drover_scheduler_workers 1.0"))
    }

    @Test func countersFollowTheTotalsAndCountOnAfterAReset() {
        let exporter = MetricsExporter()
        let line = #"drover_worker_transfer_bytes_total{worker="a",direction="outgoing"} "#
        #expect(exporter.render(snapshot([worker("a", outgoing: 100)])).contains(line + "100.0"))
        #expect(exporter.render(snapshot([worker("a", outgoing: 150)])).contains(line + "150.0"))
        // The worker's process started over: its total fell to 30, which the counter adds.
        #expect(exporter.render(snapshot([worker("a", outgoing: 30)])).contains(line + "180.0"))
    }
}
