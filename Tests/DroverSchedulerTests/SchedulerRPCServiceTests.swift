import DroverCore
import DroverProto
import DroverScheduler
import GRPCCore
import GRPCInProcessTransport
import Logging
import SwiftProtobuf
import Testing

/// The real gRPC service over the in-process transport: streams, batches, bad input.
@Suite(.timeLimit(.minutes(1))) struct SchedulerRPCServiceTests {
    /// Runs `body` against a scheduler served in process.
    func withScheduler(_ body: (Drover_V1_Scheduler.Client<InProcessTransport.Client>) async throws -> Void)
        async throws
    {
        let transport = InProcessTransport()
        let service = SchedulerService(logger: Logger(label: "drover.scheduler.test"))
        let server = GRPCServer(
            transport: transport.server,
            services: [SchedulerRPCService(service: service, address: { "in-process" })]
        )
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await server.serve() }
            try await withGRPCClient(transport: transport.client) { client in
                try await body(Drover_V1_Scheduler.Client(wrapping: client))
            }
            server.beginGracefulShutdown()
        }
    }

    /// One end of a bidirectional stream: what to send, and what came back.
    final class StreamEnd<Out: Sendable, In: Sendable>: Sendable {
        let outgoing: AsyncStream<Out>
        let send: AsyncStream<Out>.Continuation
        let incoming: AsyncStream<In>
        let received: AsyncStream<In>.Continuation

        init() {
            (outgoing, send) = AsyncStream.makeStream(of: Out.self)
            (incoming, received) = AsyncStream.makeStream(of: In.self)
        }
    }

    @Test func aSubmittedTaskReachesAWorkerAndItsResultTheClient() async throws {
        try await withScheduler { scheduler in
            let worker = StreamEnd<Drover_V1_WorkerEvents, Drover_V1_WorkerCommands>()
            let client = StreamEnd<Drover_V1_ClientEvents, Drover_V1_ClientUpdates>()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await scheduler.workerStream(
                        requestProducer: { writer in
                            for await batch in worker.outgoing { try await writer.write(batch) }
                        },
                        onResponse: { response in
                            for try await batch in response.messages { worker.received.yield(batch) }
                        }
                    )
                }
                group.addTask {
                    try await scheduler.clientStream(
                        requestProducer: { writer in
                            for await batch in client.outgoing { try await writer.write(batch) }
                        },
                        onResponse: { response in
                            for try await batch in response.messages { client.received.yield(batch) }
                        }
                    )
                }
                worker.send.yield(
                    .with {
                        $0.events = [
                            .with {
                                $0.register = .with {
                                    $0.id = "w1"; $0.address = "127.0.0.1:1"; $0.threads = 2
                                }
                            }
                        ]
                    })
                let spec = TaskSpec(key: "inc-1", function: "inc", arguments: [.value(try 1.encodePayload())])
                client.send.yield(
                    .with {
                        $0.events = [
                            .with { $0.register = .with { $0.id = "c1" } },
                            .with {
                                $0.submit = .with {
                                    $0.tasks = [.with { $0.spec = spec.proto }]; $0.wants = ["inc-1"]
                                }
                            },
                        ]
                    })
                var commands = worker.incoming.makeAsyncIterator()
                let batch = try #require(await commands.next())
                guard case .compute(let compute) = batch.commands.first?.kind else {
                    Issue.record("expected a compute command, got \(batch)")
                    return
                }
                #expect(try TaskSpec(proto: compute.spec) == spec)
                worker.send.yield(
                    .with {
                        $0.events = [
                            .with {
                                $0.finished = .with {
                                    $0.key = "inc-1"; $0.nbytes = 8
                                }
                            }
                        ]
                    })
                var updates = client.incoming.makeAsyncIterator()
                var announced: [String] = []
                var keyUpdate: Drover_V1_ClientUpdate?
                while keyUpdate == nil, let batch = await updates.next() {
                    for update in batch.updates {
                        if case .workers(let workers) = update.kind {
                            announced = workers.addresses
                        } else {
                            keyUpdate = update
                        }
                    }
                }
                // The client heard of the worker (when it registered, or when the worker joined).
                #expect(announced == ["127.0.0.1:1"])
                guard case .inMemory(let memory) = keyUpdate?.kind else {
                    Issue.record("expected an in-memory update, got \(String(describing: keyUpdate))")
                    return
                }
                #expect(memory.key == "inc-1")
                #expect(memory.holders == ["127.0.0.1:1"])
                let identity = try await scheduler.identity(Drover_V1_IdentityRequest())
                #expect(identity.workers == 1)
                #expect(identity.threads == 2)
                worker.send.finish()
                client.send.finish()
                try await group.waitForAll()
            }
        }
    }

    @Test func aStreamThatDoesNotRegisterIsRefusedAndTheServerKeepsServing() async throws {
        try await withScheduler { scheduler in
            let error = try await #require(throws: RPCError.self) {
                try await scheduler.workerStream(
                    requestProducer: { writer in
                        try await writer.write(.with { $0.events = [.with { $0.finished = .with { $0.key = "x" } }] })
                    },
                    onResponse: { response in for try await _ in response.messages {} }
                )
            }
            #expect(error.code == .failedPrecondition)
            #expect(error.message == "The first message on a worker stream must register the worker.")
            let identity = try await scheduler.identity(Drover_V1_IdentityRequest())
            #expect(identity.workers == 0)
        }
    }
}
