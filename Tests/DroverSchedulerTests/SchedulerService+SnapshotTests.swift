import DroverCore
import DroverProto
import Logging
import SwiftProtobuf
import Testing

@testable import DroverScheduler

/// The service's bookkeeping for the dashboard, fed the messages workers and nannies send.
@Suite struct SchedulerServiceSnapshotTests {
    @discardableResult
    private func register(_ service: SchedulerService, _ id: String, address: String) async throws
        -> BatchingQueue<Drover_V1_WorkerCommand>
    {
        let outbox = BatchingQueue<Drover_V1_WorkerCommand>()
        _ = try await service.workerConnected(
            .with {
                $0.id = id; $0.address = address; $0.threads = 2; $0.memoryLimit = 1 << 30; $0.nanny = "127.0.0.1:9"
            },
            outbox: outbox, peer: "test")
        return outbox
    }

    @Test func heartbeatsExitReportsAndFinishedTasksReachTheSnapshotAndIdentity() async throws {
        let service = SchedulerService(logger: Logger(label: "drover.scheduler.test"))
        let outbox = try await register(service, "local-0", address: "127.0.0.1:1")
        await service.clientSent(
            [
                .with {
                    $0.submit = .with {
                        $0.tasks = [.with { $0.spec = TaskSpec(key: "inc-1", function: "inc", arguments: []).proto }]
                        $0.wants = ["inc-1"]
                    }
                }
            ], from: "c1")
        await service.workerSent(
            [
                .with {
                    $0.finished = .with {
                        $0.key = "inc-1"; $0.nbytes = 8; $0.durationSeconds = 0.5
                    }
                },
                .with {
                    $0.heartbeat = .with {
                        $0.memoryBytes = 100 << 20; $0.managedBytes = 8; $0.executing = 1
                        $0.incomingTransfers = 1; $0.incomingTransferBytes = 4096
                        $0.incomingTransferSeconds = 0.01; $0.outgoingTransferBytes = 2048
                    }
                },
            ], from: "local-0", outbox: outbox)
        var snapshot = await service.snapshot()
        #expect(snapshot.taskStream.map(\.function) == ["inc"])
        #expect(snapshot.functions.map(\.function) == ["inc"])
        #expect(snapshot.functions.first?.memory == 1)
        #expect(snapshot.workers.first?.executing == 1)
        #expect(snapshot.workers.first?.transfers.incomingBytes == 4096)
        let identity = await service.identity(address: "s")
        #expect(identity.workerInfo.first?.executing == 1)
        #expect(identity.workerInfo.first?.incomingTransferBytes == 4096)
        #expect(identity.workerInfo.first?.outgoingTransferBytes == 2048)

        // The nanny reports an OOM kill; the replacement registers under the same name.
        #expect(
            await service.workerExited(
                .with {
                    $0.workerID = "local-0"; $0.address = "127.0.0.1:1"; $0.cause = "OOM-killed at its 1 GiB limit"
                    $0.oomKilled = true; $0.restarts = 1; $0.nanny = "127.0.0.1:9"
                }, peer: "test"))
        try await register(service, "local-0", address: "127.0.0.1:2")
        snapshot = await service.snapshot(taskStreamSince: snapshot.taskStreamCursor)
        #expect(snapshot.taskStream.isEmpty)
        #expect(snapshot.events.map(\.kind) == [.joined, .oomKilled, .restarted])
        #expect(snapshot.workers.first?.restarts == 1)
        #expect(snapshot.workers.first?.restartsByKind == ["oom": 1])
        let again = await service.identity(address: "s")
        #expect(again.workerInfo.first?.restarts == 1)
        #expect(again.workerInfo.first?.lastExitCause == "OOM-killed at its 1 GiB limit")
    }

    @Test func aFailureAndAPauseAreEvents() async throws {
        let service = SchedulerService(logger: Logger(label: "drover.scheduler.test"))
        let outbox = try await register(service, "w", address: "127.0.0.1:1")
        await service.clientSent(
            [
                .with {
                    $0.submit = .with {
                        $0.tasks = [.with { $0.spec = TaskSpec(key: "boom-1", function: "boom", arguments: []).proto }]
                        $0.wants = ["boom-1"]
                    }
                }
            ], from: "c1")
        let error = TaskError(kind: .failed, key: "boom-1", function: "boom", message: "it went boom")
        await service.workerSent(
            [
                .with { $0.failed = .with { $0.error = error.proto } },
                .with {
                    $0.heartbeat = .with {
                        $0.memoryBytes = 1; $0.paused = true
                    }
                },
            ], from: "w", outbox: outbox)
        let snapshot = await service.snapshot()
        #expect(snapshot.events.map(\.kind) == [.joined, .taskErred, .paused])
        #expect(snapshot.events[1].detail == "boom 'boom-1': it went boom")
        #expect(snapshot.workers.first?.status == "paused")
        #expect(snapshot.functions.first?.erred == 1)
    }
}
