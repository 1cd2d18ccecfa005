import DroverCore
import DroverProto
import Foundation
import Logging
import SwiftProtobuf
import Testing

@testable import DroverDashboard
@testable import DroverScheduler

/// A real scheduler service and its dashboard on a free port, asked over real HTTP.
@Suite(.timeLimit(.minutes(1))) struct DashboardTests {
    /// Runs `body` with a service (two workers, one restarted after an OOM kill, a finished and a
    /// queued task) and the address of its dashboard.
    func withDashboard(
        port: Int = 0, token: String? = nil, certificateFile: String? = nil, keyFile: String? = nil,
        _ body: @Sendable (SchedulerService, String) async throws -> Void
    ) async throws {
        let service = SchedulerService(logger: Logger(label: "drover.scheduler.test"))
        try await Self.populate(service)
        var configured = Dashboard(
            service: service, host: "127.0.0.1", port: port, updateInterval: .milliseconds(50),
            snapshotMaximumAge: .zero,
            logger: Logger(label: "drover.dashboard.test"))
        configured.token = token
        configured.certificateFile = certificateFile
        configured.keyFile = keyFile
        let dashboard = configured
        try await withThrowingTaskGroup(of: Void.self) { group in
            let (bound, listening) = AsyncStream<String>.makeStream()
            group.addTask { try await dashboard.run { listening.yield($0) } }
            var addresses = bound.makeAsyncIterator()
            let address = try #require(await addresses.next())
            try await body(service, address)
            group.cancelAll()
        }
    }

    static func populate(_ service: SchedulerService) async throws {
        var outboxes: [WorkerID: BatchingQueue<Drover_V1_WorkerCommand>] = [:]
        for (id, port) in [("local-0", 1), ("local-1", 2)] {
            let outbox = BatchingQueue<Drover_V1_WorkerCommand>()
            outboxes[WorkerID(id)] = outbox
            _ = try await service.workerConnected(
                .with {
                    $0.id = id; $0.address = "127.0.0.1:\(port)"; $0.threads = 2; $0.memoryLimit = 1 << 30
                    $0.nanny = "127.0.0.1:9"
                },
                outbox: outbox, peer: "test")
        }
        _ = await service.workerExited(
            .with {
                $0.workerID = "local-1"; $0.address = "127.0.0.1:2"; $0.cause = "OOM-killed at its 1.0 GiB limit"
                $0.oomKilled = true; $0.restarts = 1; $0.nanny = "127.0.0.1:9"
            }, peer: "test")
        let replacement = BatchingQueue<Drover_V1_WorkerCommand>()
        outboxes["local-1"] = replacement
        _ = try await service.workerConnected(
            .with {
                $0.id = "local-1"; $0.address = "127.0.0.1:3"; $0.threads = 2; $0.memoryLimit = 1 << 30
                $0.nanny = "127.0.0.1:9"
            },
            outbox: replacement, peer: "test")
        let specs = (0..<2).map { TaskSpec(key: TaskKey("inc-\($0)"), function: "inc", arguments: []) }
        await service.clientSent(
            [
                .with {
                    $0.submit = .with {
                        $0.tasks = specs.map { spec in .with { $0.spec = spec.proto } }
                        $0.wants = specs.map(\.key.rawValue)
                    }
                }
            ], from: "c1")
        let snapshot = await service.snapshot()
        for worker in snapshot.workers {
            await service.workerSent(
                [
                    .with {
                        $0.heartbeat = .with {
                            $0.memoryBytes = 120 << 20; $0.managedBytes = 8; $0.executing = 1
                            $0.incomingTransferBytes = 4096; $0.outgoingTransferBytes = 1024
                            $0.incomingTransferSeconds = 0.5; $0.incomingTransfers = 2
                            $0.paused = worker.id == "local-1"
                        }
                    }
                ], from: WorkerID(worker.id), outbox: outboxes[WorkerID(worker.id)]!)
        }
        // Finish whichever tasks went to local-0.
        let processing = await service.state.processing(on: "local-0").sorted()
        for key in processing {
            await service.workerSent(
                [
                    .with {
                        $0.finished = .with {
                            $0.key = key.rawValue; $0.nbytes = 8; $0.durationSeconds = 1
                        }
                    }
                ],
                from: "local-0", outbox: outboxes["local-0"]!)
        }
    }

    @Test func healthSaysOKAndTheRootRedirectsToTheStatusPage() async throws {
        try await withDashboard { _, address in
            let health = try await HTTPGet.get("/health", from: address)
            #expect(health.status == 200)
            #expect(health.body == "ok")
            let root = try await HTTPGet.get("/", from: address)
            #expect(root.status == 303)
            #expect(root.headers["location"] == "/status")
        }
    }

    @Test func theSnapshotDecodesAndMatchesTheService() async throws {
        try await withDashboard { service, address in
            let reply = try await HTTPGet.get("/api/v1/snapshot", from: address)
            #expect(reply.status == 200)
            #expect(reply.headers["content-type"] == "application/json")
            let snapshot = try JSONDecoder().decode(ClusterSnapshot.self, from: Data(reply.body.utf8))
            #expect(snapshot.workers.map(\.id) == ["local-0", "local-1"])
            let restarted = try #require(snapshot.workers.last)
            #expect(restarted.address == "127.0.0.1:3")
            #expect(restarted.restarts == 1)
            #expect(restarted.lastExitCause == "OOM-killed at its 1.0 GiB limit")
            #expect(restarted.status == "paused")
            #expect(snapshot.functions.map(\.function) == ["inc"])
            #expect(snapshot.functions.first?.total == 2)
            #expect(snapshot.functions.first?.memory == 1)
            #expect(snapshot.taskStream.map(\.function) == ["inc"])
            #expect(snapshot.events.map(\.kind) == [.joined, .joined, .oomKilled, .restarted, .paused])
            let direct = await service.snapshot()
            #expect(snapshot.totals == direct.totals)
        }
    }

    @Test func theOtherJSONRoutesServeTheirParts() async throws {
        try await withDashboard { _, address in
            let workers = try await HTTPGet.get("/api/v1/workers", from: address)
            let decoded = try JSONDecoder().decode([ClusterSnapshot.Worker].self, from: Data(workers.body.utf8))
            #expect(decoded.count == 2)
            let tasks = try await HTTPGet.get("/api/v1/tasks", from: address)
            #expect(tasks.body.contains(#""function":"inc""#))
            let events = try await HTTPGet.get("/api/v1/events", from: address)
            let kinds = try JSONDecoder().decode([ClusterHistory.Event].self, from: Data(events.body.utf8)).map(\.kind)
            #expect(kinds.contains(.restarted))
            let stream = try await HTTPGet.get("/api/v1/task-stream?since=1", from: address)
            struct TaskStream: Decodable {
                var cursor: Int
                var executions: [ClusterHistory.Execution]
            }
            let page = try JSONDecoder().decode(TaskStream.self, from: Data(stream.body.utf8))
            #expect(page.cursor == 1)
            #expect(page.executions.isEmpty)
        }
    }

    @Test func badInputIsRefusedAndTheDashboardKeepsServing() async throws {
        try await withDashboard { _, address in
            let bad = try await HTTPGet.get("/api/v1/task-stream?since=soon", from: address)
            #expect(bad.status == 400)
            #expect(bad.body.contains("'since' must be a task-stream cursor"))
            #expect(try await HTTPGet.get("/nowhere", from: address).status == 404)
            #expect(try await HTTPGet.get("/health", from: address).body == "ok")
        }
    }

    @Test func metricsCarryTheServicesNumbers() async throws {
        try await withDashboard { _, address in
            let reply = try await HTTPGet.get("/metrics", from: address)
            #expect(reply.status == 200)
            #expect(reply.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
            let lines = Set(reply.body.split(separator: "\n").map(String.init))
            for expected in [
                "drover_scheduler_workers 2.0",
                "drover_scheduler_clients 1.0",
                #"drover_scheduler_tasks{state="memory"} 1.0"#,
                #"drover_scheduler_tasks{state="erred"} 0.0"#,
                #"drover_worker_memory_bytes{worker="local-0",type="managed"} 8.0"#,
                #"drover_worker_memory_bytes{worker="local-0",type="unmanaged"} 125829112.0"#,
                #"drover_worker_memory_limit_bytes{worker="local-1"} 1073741824.0"#,
                #"drover_worker_threads{worker="local-0"} 2.0"#,
                #"drover_worker_tasks{worker="local-0",state="executing"} 1.0"#,
                #"drover_worker_restarts_total{worker="local-1",cause="oom"} 1.0"#,
                #"drover_worker_transfer_bytes_total{worker="local-0",direction="incoming"} 4096.0"#,
                #"drover_worker_transfer_bytes_total{worker="local-0",direction="outgoing"} 1024.0"#,
                #"drover_worker_transfer_seconds_total{worker="local-0"} 0.5"#,
                #"drover_worker_paused{worker="local-1"} 1.0"#,
            ] {
                #expect(lines.contains(expected), "missing \(expected)")
            }
            for family in ["drover_scheduler_tasks", "drover_worker_memory_bytes", "drover_worker_restarts_total"] {
                #expect(reply.body.contains("# TYPE \(family) "))
            }
        }
    }

    @Test func theStatusPageNeedsNothingFromElsewhere() async throws {
        try await withDashboard { _, address in
            let reply = try await HTTPGet.get("/status", from: address)
            #expect(reply.status == 200)
            #expect(reply.headers["content-type"] == "text/html; charset=utf-8")
            let page = reply.body
            #expect(page.hasPrefix("<!doctype html>"))
            #expect(!page.contains("http://"))
            #expect(!page.contains("https://"))
            #expect(!page.contains("//cdn"))
            // Every src= and href= is relative or inline.
            for attribute in ["src=", "href="] {
                for range in page.ranges(of: attribute) {
                    let value = page[range.upperBound...].dropFirst().prefix(while: { $0 != "\"" && $0 != "'" })
                    #expect(!value.hasPrefix("/") || !value.hasPrefix("//"), "\(attribute)\(value)")
                    #expect(!value.contains(":") || value.hasPrefix("data:"), "\(attribute)\(value)")
                }
            }
            #expect(page.contains("new EventSource(withToken('api/v1/stream?events=1'))"))
            #expect(page.contains(#"<tbody id="workers">"#))
        }
    }

    @Test func theLiveStreamSendsSnapshots() async throws {
        try await withDashboard { _, address in
            let reply = try await HTTPGet.get("/api/v1/stream", from: address) { text in
                text.contains("event: snapshot\ndata: ") && text.hasSuffix("\n\n") || text.hasSuffix("\n\n\r\n")
            }
            #expect(reply.status == 200)
            #expect(reply.headers["content-type"] == "text/event-stream")
            let line = try #require(reply.body.split(separator: "\n").first { $0.hasPrefix("data: ") })
            struct Message: Decodable {
                var reset: Bool
                var snapshot: ClusterSnapshot
                var taskStream: [ClusterHistory.Execution]
            }
            let message = try JSONDecoder().decode(Message.self, from: Data(line.dropFirst("data: ".count).utf8))
            #expect(message.reset)
            #expect(message.snapshot.workers.count == 2)
            #expect(message.taskStream.map(\.worker) == ["local-0"])
        }
    }

    @Test func aLimitedStreamEndsAndALastEventIDGetsOnlyWhatIsNew() async throws {
        struct Message: Decodable {
            var reset: Bool
            var taskStream: [ClusterHistory.Execution]
        }
        @Sendable func message(_ body: String) throws -> Message {
            let line = try #require(body.split(separator: "\n").first { $0.hasPrefix("data: ") })
            return try JSONDecoder().decode(Message.self, from: Data(line.dropFirst("data: ".count).utf8))
        }
        try await withDashboard { _, address in
            // Read to the end: the server closes the response after one event.
            let first = try await HTTPGet.get("/api/v1/stream?events=1", from: address)
            #expect(first.body.contains("retry: 500\nid: 1\nevent: snapshot\n"))
            #expect(first.body.components(separatedBy: "event: snapshot").count == 2)
            #expect(try message(first.body).reset)
            #expect(try message(first.body).taskStream.count == 1)
            let next = try await HTTPGet.get("/api/v1/stream?events=1", from: address, headers: ["Last-Event-ID": "1"])
            #expect(try message(next.body).reset == false)
            #expect(try message(next.body).taskStream.isEmpty)
            let bad = try await HTTPGet.get("/api/v1/stream?events=0", from: address)
            #expect(bad.status == 400)
        }
    }

    @Test func aPortInUseFallsBackToAFreeOne() async throws {
        try await withDashboard { service, first in
            let port = try #require(Int(first.split(separator: ":").last ?? ""))
            let second = Dashboard(service: service, port: port, logger: Logger(label: "drover.dashboard.test"))
            try await withThrowingTaskGroup(of: Void.self) { group in
                let (bound, listening) = AsyncStream<String>.makeStream()
                group.addTask { try await second.run { listening.yield($0) } }
                var addresses = bound.makeAsyncIterator()
                let address = try #require(await addresses.next())
                #expect(address != first)
                #expect(address.hasPrefix("127.0.0.1:"))
                #expect(try await HTTPGet.get("/health", from: address).body == "ok")
                group.cancelAll()
            }
        }
    }
}
