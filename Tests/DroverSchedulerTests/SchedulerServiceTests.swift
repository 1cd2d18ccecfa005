import DroverCore
import DroverProto
import GRPCCore
import Logging
import SwiftProtobuf
import Testing

@testable import DroverScheduler

/// The service shell: what it passes on, and the connections and reports it refuses.
@Suite struct SchedulerServiceTests {
    private func makeService() -> SchedulerService {
        SchedulerService(logger: Logger(label: "drover.scheduler.test"))
    }

    private func register(
        _ service: SchedulerService, _ id: String, address: String, nanny: String = ""
    ) async throws -> BatchingQueue<Drover_V1_WorkerCommand> {
        let outbox = BatchingQueue<Drover_V1_WorkerCommand>()
        _ = try await service.workerConnected(
            .with {
                $0.id = id; $0.address = address; $0.threads = 1; $0.nanny = nanny
            }, outbox: outbox, peer: "test")
        return outbox
    }

    /// The next updates about keys sent to a client (worker announcements skipped).
    private func keyUpdates(_ outbox: BatchingQueue<Drover_V1_ClientUpdate>) async -> [Drover_V1_ClientUpdate] {
        while let batch = await outbox.next() {
            let keys = batch.filter { if case .workers = $0.kind { false } else { true } }
            if !keys.isEmpty { return keys }
        }
        return []
    }

    @Test func aSmallResultReachesTheClientWithItsCompletion() async throws {
        let service = makeService()
        let worker = try await register(service, "w1", address: "127.0.0.1:1")
        let client = BatchingQueue<Drover_V1_ClientUpdate>()
        try await service.clientConnected("c1", outbox: client)
        await service.clientSent(
            [
                .with {
                    $0.submit = .with {
                        $0.tasks = [.with { $0.spec = TaskSpec(key: "add-1", function: "add", arguments: []).proto }]
                        $0.wants = ["add-1"]
                    }
                }
            ], from: "c1")
        let value = try 42.encodePayload()
        let accepted = await service.workerSent(
            [
                .with {
                    $0.finished = .with {
                        $0.key = "add-1"; $0.nbytes = 8; $0.durationSeconds = 0.1; $0.inline = value.proto
                    }
                }
            ], from: "w1", outbox: worker)
        #expect(accepted)
        let updates = await keyUpdates(client)
        guard case .inMemory(let memory) = updates.first?.kind else {
            Issue.record("expected the key in memory, got \(updates)")
            return
        }
        #expect(memory.key == "add-1")
        #expect(memory.hasInline)
        #expect(Payload(proto: memory.inline) == value)
    }

    @Test func aConnectionReplacedByANewRegistrationIsNotListenedTo() async throws {
        let service = makeService()
        let old = try await register(service, "w1", address: "127.0.0.1:1")
        _ = try await register(service, "w1", address: "127.0.0.1:2")
        let accepted = await service.workerSent(
            [.with { $0.heartbeat = .with { $0.memoryBytes = 1 } }], from: "w1", outbox: old)
        #expect(!accepted)
        #expect(await service.removalReason(of: old) == "it registered again")
    }

    @Test func aClientIDInUseAndAnEmptyOneAreRefused() async throws {
        let service = makeService()
        try await service.clientConnected("c1", outbox: BatchingQueue())
        let duplicate = await #expect(throws: RPCError.self) {
            try await service.clientConnected("c1", outbox: BatchingQueue())
        }
        #expect(duplicate?.code == .alreadyExists)
        let empty = await #expect(throws: RPCError.self) {
            try await service.clientConnected("", outbox: BatchingQueue())
        }
        #expect(empty?.code == .invalidArgument)
    }

    @Test func unusableWorkerRegistrationsAreRefused() async throws {
        let service = makeService()
        for (id, address, threads) in [("", "127.0.0.1:1", 1), ("w", "nowhere", 1), ("w", "127.0.0.1:1", 0)] {
            let error = await #expect(throws: RPCError.self) {
                _ = try await service.workerConnected(
                    .with {
                        $0.id = id; $0.address = address; $0.threads = Int32(threads)
                    }, outbox: BatchingQueue(), peer: "test")
            }
            #expect(error?.code == .invalidArgument)
        }
        #expect(await service.state.workers.isEmpty)
    }

    @Test func anExitReportIsTakenOnlyFromTheWorkersOwnNanny() async throws {
        let service = makeService()
        _ = try await register(service, "w1", address: "127.0.0.1:1", nanny: "127.0.0.1:9")
        _ = try await register(service, "plain", address: "127.0.0.1:2")
        let forged: [(String, String)] = [("w1", "127.0.0.1:8"), ("w1", ""), ("plain", ""), ("ghost", "127.0.0.1:9")]
        for (id, nanny) in forged {
            let accepted = await service.workerExited(
                .with {
                    $0.workerID = id; $0.address = "127.0.0.1:1"; $0.nanny = nanny; $0.cause = "forged"
                }, peer: "test")
            #expect(!accepted, "a report for \(id) from '\(nanny)' was taken")
        }
        #expect(await service.state.workers.count == 2)
        let genuine = await service.workerExited(
            .with {
                $0.workerID = "w1"; $0.address = "127.0.0.1:1"; $0.nanny = "127.0.0.1:9"; $0.cause = "OOM-killed"
            }, peer: "test")
        #expect(genuine)
        #expect(await service.state.workers["w1"] == nil)
    }
}
