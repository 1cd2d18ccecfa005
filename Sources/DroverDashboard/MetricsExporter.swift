import DroverScheduler
import Metrics
import Prometheus
import Synchronization

/// The cluster in Prometheus's text format: swift-metrics gauges and counters backed by a
/// `PrometheusCollectorRegistry` of the dashboard's own, set from a snapshot at each scrape.
///
/// Nothing is measured between scrapes. Series of workers no longer in the snapshot are removed;
/// counters (restarts, transfers) follow the scheduler's totals, and a total that went down (a
/// worker process that started over) counts again from zero.
final class MetricsExporter: Sendable {
    private struct SeriesKey: Hashable {
        var name: String
        var labels: [String]
    }

    private struct Series {
        var gauges: [SeriesKey: CoreMetrics.Gauge] = [:]
        var counters: [SeriesKey: (counter: CoreMetrics.FloatingPointCounter, total: Double)] = [:]
    }

    private let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    private let series = Mutex(Series())

    init() {
        factory = PrometheusMetricsFactory(registry: registry)
    }

    /// Sets every series from `snapshot` and returns the exposition text.
    func render(_ snapshot: ClusterSnapshot) -> String {
        series.withLock { series in
            var seen: Set<SeriesKey> = []
            func gauge(_ name: String, _ labels: [(String, String)], _ value: Double) {
                let key = SeriesKey(name: name, labels: labels.flatMap { [$0.0, $0.1] })
                seen.insert(key)
                let metric =
                    series.gauges[key] ?? CoreMetrics.Gauge(label: name, dimensions: labels, factory: factory)
                series.gauges[key] = metric
                metric.record(value)
            }
            func counter(_ name: String, _ labels: [(String, String)], total: Double) {
                let key = SeriesKey(name: name, labels: labels.flatMap { [$0.0, $0.1] })
                seen.insert(key)
                let (metric, previous) =
                    series.counters[key]
                    ?? (CoreMetrics.FloatingPointCounter(label: name, dimensions: labels, factory: factory), 0)
                let increase = total >= previous ? total - previous : total
                if increase > 0 { metric.increment(by: increase) }
                series.counters[key] = (metric, total)
            }
            Self.record(snapshot, gauge: gauge, counter: counter)
            for (key, metric) in series.gauges where !seen.contains(key) {
                metric.destroy()
                series.gauges[key] = nil
            }
            for (key, entry) in series.counters where !seen.contains(key) {
                entry.counter.destroy()
                series.counters[key] = nil
            }
            return registry.emitToString()
        }
    }

    private static func record(
        _ snapshot: ClusterSnapshot,
        gauge: (String, [(String, String)], Double) -> Void,
        counter: (String, [(String, String)], Double) -> Void
    ) {
        let totals = snapshot.totals
        gauge("drover_scheduler_workers", [], Double(totals.workers))
        gauge("drover_scheduler_threads", [], Double(totals.threads))
        gauge("drover_scheduler_clients", [], Double(totals.clients))
        for state in ClusterSnapshot.taskStateNames {
            gauge("drover_scheduler_tasks", [("state", state)], Double(totals.tasksByState[state] ?? 0))
        }
        for worker in snapshot.workers {
            let id = ("worker", worker.id)
            for (type, bytes) in [
                ("managed", worker.managedBytes), ("unmanaged", worker.unmanagedBytes),
                ("spilled", worker.spilledBytes),
            ] {
                gauge("drover_worker_memory_bytes", [id, ("type", type)], Double(bytes))
            }
            gauge("drover_worker_memory_limit_bytes", [id], Double(worker.memoryLimit))
            gauge("drover_worker_threads", [id], Double(worker.threads))
            gauge("drover_worker_paused", [id], worker.status == "paused" ? 1 : 0)
            for (state, count) in [
                ("processing", worker.processing), ("executing", worker.executing), ("memory", worker.held),
            ] {
                gauge("drover_worker_tasks", [id, ("state", state)], Double(count))
            }
            for (cause, count) in worker.restartsByKind.sorted(by: { $0.key < $1.key }) {
                counter("drover_worker_restarts_total", [id, ("cause", cause)], Double(count))
            }
            let transfers = worker.transfers
            counter(
                "drover_worker_transfer_bytes_total", [id, ("direction", "incoming")], Double(transfers.incomingBytes))
            counter(
                "drover_worker_transfer_bytes_total", [id, ("direction", "outgoing")], Double(transfers.outgoingBytes))
            counter("drover_worker_transfer_seconds_total", [id], transfers.incomingSeconds)
            counter("drover_worker_transfers_total", [id], Double(transfers.incomingCount))
        }
    }
}
