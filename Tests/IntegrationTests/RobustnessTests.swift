import DroverClient
import DroverCore
import DroverLocal
import DroverProto
import DroverTestKit
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import SwiftProtobuf
import Testing

/// A client written from the `.proto` files alone, as another language would: one
/// `Scheduler.ClientStream`, raw messages in, raw updates out. The Swift client refuses some bad
/// input itself, so the scheduler's own checks are tried through this.
final class RawClient: Sendable {
    private let events: AsyncStream<Drover_V1_ClientEvents>.Continuation
    /// Every update the scheduler sent, in order.
    let updates: AsyncStream<Drover_V1_ClientUpdate>
    private let call: Task<Void, any Error>

    init(_ address: String, id: String) throws {
        let endpoint = try #require(HostAndPort(address))
        let (requests, events) = AsyncStream.makeStream(of: Drover_V1_ClientEvents.self)
        let (updates, received) = AsyncStream.makeStream(of: Drover_V1_ClientUpdate.self)
        self.events = events
        self.updates = updates
        events.yield(.with { $0.events = [.with { $0.register = .with { $0.id = id } }] })
        call = Task {
            defer { received.finish() }
            try await withGRPCClient(
                transport: try Transports.makeClient(to: endpoint)
            ) { grpc in
                var options = CallOptions.defaults
                options.maxRequestMessageBytes = 1 << 30
                try await Drover_V1_Scheduler.Client(wrapping: grpc).clientStream(
                    options: options,
                    requestProducer: { writer in
                        for await batch in requests { try await writer.write(batch) }
                    },
                    onResponse: { response in
                        for try await batch in response.messages {
                            for update in batch.updates { received.yield(update) }
                        }
                    })
            }
        }
    }

    func send(_ event: Drover_V1_ClientEvent) {
        events.yield(.with { $0.events = [event] })
    }

    func submit(_ specs: [TaskSpec], wants: [TaskKey]) {
        send(
            .with {
                $0.submit = .with {
                    $0.tasks = specs.map { spec in .with { $0.spec = spec.proto } }
                    $0.wants = wants.map(\.rawValue)
                }
            })
    }

    /// The next updates about keys (not worker announcements) until `count` have come.
    func keyUpdates(_ count: Int) async -> [Drover_V1_ClientUpdate] {
        var found: [Drover_V1_ClientUpdate] = []
        for await update in updates {
            if case .workers = update.kind { continue }
            found.append(update)
            if found.count == count { break }
        }
        return found
    }

    /// How the call ended (after ``close()``, or when the scheduler ended it).
    func outcome() async -> (any Error)? {
        do {
            try await call.value
            return nil
        } catch {
            return error
        }
    }

    func close() {
        events.finish()
    }
}

/// A worker written from the `.proto` files alone: registers on `Scheduler.WorkerStream` with the
/// address it is given, and answers every task with a finished report of `nbytes` (it holds
/// nothing: a `GetData` to its address fails).
final class RawWorker: Sendable {
    private let call: Task<Void, any Error>

    init(_ address: String, id: String, serving: String, nbytes: Int64) throws {
        let endpoint = try #require(HostAndPort(address))
        call = Task {
            try await withGRPCClient(
                transport: .http2NIOPosix(
                    target: .dns(host: endpoint.host, port: endpoint.port), transportSecurity: .plaintext)
            ) { grpc in
                let (reports, finished) = AsyncStream.makeStream(of: Drover_V1_WorkerEvent.self)
                try await Drover_V1_Scheduler.Client(wrapping: grpc).workerStream(
                    requestProducer: { writer in
                        try await writer.write(
                            .with {
                                $0.events = [
                                    .with {
                                        $0.register = .with {
                                            $0.id = id; $0.address = serving; $0.threads = 1
                                        }
                                    }
                                ]
                            })
                        for await report in reports { try await writer.write(.with { $0.events = [report] }) }
                    },
                    onResponse: { response in
                        for try await batch in response.messages {
                            for command in batch.commands {
                                guard case .compute(let compute) = command.kind else { continue }
                                finished.yield(
                                    .with {
                                        $0.finished = .with {
                                            $0.key = compute.spec.key; $0.nbytes = nbytes; $0.durationSeconds = 0.01
                                        }
                                    })
                            }
                        }
                        finished.finish()
                    })
            }
        }
    }

    func stop() {
        call.cancel()
    }
}

/// The erred key updates among `updates`, by key.
func erredKeys(_ updates: [Drover_V1_ClientUpdate]) -> [String: Drover_V1_TaskError] {
    var found: [String: Drover_V1_TaskError] = [:]
    for update in updates {
        if case .erred(let erred) = update.kind { found[erred.key] = erred.error }
    }
    return found
}

/// Resident memory of a process, from /proc.
func residentBytes(of pid: Int32) -> Int64 {
    ProcessMemory.residentBytes(of: pid) ?? 0
}

/// The scheduler against what any client could send, and against hung workers.
@Suite(.timeLimit(.minutes(1))) struct RobustnessTests {
    static func call<Result: Sendable>(
        _ address: String,
        _ body: @Sendable (Drover_V1_Scheduler.Client<HTTP2ClientTransport.Posix>) async throws -> Result
    ) async throws -> Result {
        let endpoint = try #require(HostAndPort(address))
        return try await withGRPCClient(
            transport: try Transports.makeClient(to: endpoint)
        ) { grpc in try await body(Drover_V1_Scheduler.Client(wrapping: grpc)) }
    }

    @Test func cyclesErrTheirSubmitterWhileAnotherClientsComputationFinishes() async throws {
        let cluster = try await LocalTestCluster(workers: 2)
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        let futures = try client.map(Builtins.sleep, Array(repeating: 0.02, count: 200))
        let rssBefore = residentBytes(of: cluster.scheduler.pid)

        let raw = try RawClient(cluster.address, id: "raw-cycles")
        let noop = { (key: TaskKey, dependencies: [TaskKey]) in
            TaskSpec(key: key, function: "noop", arguments: dependencies.map { .key($0) })
        }
        raw.submit([noop("a", ["b"]), noop("b", ["a"])], wants: ["a", "b"])
        raw.submit([noop("me", ["me"])], wants: ["me"])
        let errors = erredKeys(await raw.keyUpdates(3))
        #expect(Set(errors.keys) == ["a", "b", "me"])
        #expect(errors.values.allSatisfy { $0.kind == .rejected })
        #expect(try #require(errors["a"]).message.contains("cycle"))
        #expect(try #require(errors["me"]).message.contains("depends on itself"))

        // The scheduler answers everyone throughout, and the other computation is right.
        let identity = try await Self.call(cluster.address) { try await $0.identity(.init()) }
        #expect(identity.workers == 2)
        #expect(try await client.gather(futures).count == 200)
        #expect(residentBytes(of: cluster.scheduler.pid) < rssBefore + (64 << 20))
        // And the cyclic keys left nothing behind.
        let status = try await client.status()
        #expect(status.tasks <= 200)
        raw.close()
        await client.close()
    }

    /// A client whose scheduler hangs (stopped with SIGSTOP: it reads nothing and ends no
    /// stream) still closes once its timeout has passed, and what waited on it is told.
    @Test func aClientWhoseSchedulerHangsStillCloses() async throws {
        let cluster = try await LocalTestCluster(workers: 1)
        defer {
            kill(cluster.scheduler.pid, SIGCONT)
            cluster.stop()
        }
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        // A round trip on the stream first, so that the hang meets an open stream.
        #expect(try await client.submit(Builtins.plus, 1, 2).result() == 3)
        let pending = try client.submit(Builtins.sleep, 30.0, pure: false)
        #expect(kill(cluster.scheduler.pid, SIGSTOP) == 0)
        await client.close(timeout: .seconds(1))
        let error = try await #require(throws: ClientError.self) { try await pending.result() }
        #expect(error.message.contains("closed"), "\(error.message)")
    }

    @Test func aKeyResubmittedWithAnotherSpecIsAnErrorNamingTheKey() async throws {
        let cluster = try await LocalTestCluster(workers: 1)
        defer { cluster.stop() }
        let raw = try RawClient(cluster.address, id: "raw-respec")
        let one = try 1.encodePayload()
        let two = try 2.encodePayload()
        raw.submit([TaskSpec(key: "k", function: "noop", arguments: [.value(one)])], wants: ["k"])
        let first = await raw.keyUpdates(1)
        guard case .inMemory(let memory) = first.first?.kind else {
            Issue.record("expected the key in memory, got \(first)")
            return
        }
        #expect(memory.key == "k")
        raw.submit([TaskSpec(key: "k", function: "noop", arguments: [.value(two)])], wants: ["k"])
        raw.submit([], wants: ["never-submitted"])
        let errors = erredKeys(await raw.keyUpdates(2))
        #expect(try #require(errors["k"]).message.contains("already knows the key 'k'"))
        #expect(try #require(errors["never-submitted"]).message.contains("no task of the key"))
        raw.close()
    }

    @Test func aSecondClientWithAnIdInUseIsRefusedAndTheFirstKeepsHearing() async throws {
        let cluster = try await LocalTestCluster(workers: 1)
        defer { cluster.stop() }
        let first = try RawClient(cluster.address, id: "same-id")
        // The first registration has happened once the scheduler announced the workers to it.
        for await update in first.updates {
            if case .workers = update.kind { break }
        }
        let second = try RawClient(cluster.address, id: "same-id")
        let refusal = try #require(await second.outcome() as? RPCError)
        #expect(refusal.code == .alreadyExists)
        #expect(refusal.message.contains("'same-id' is in use"))
        first.submit(
            [TaskSpec(key: "mine", function: "noop", arguments: [.value(try 5.encodePayload())])], wants: ["mine"])
        let updates = await first.keyUpdates(1)
        guard case .inMemory(let memory) = updates.first?.kind else {
            Issue.record("the first client did not hear of its key: \(updates)")
            return
        }
        #expect(memory.key == "mine")
        first.close()
    }

    /// Whether `process` logs `text` within 10 s.
    @Test func anOversizeMessageIsRefusedWithTheLimitAndLogged() async throws {
        let cluster = try await LocalTestCluster(workers: 1, schedulerArguments: ["--max-message-bytes", "1048576"])
        defer { cluster.stop() }
        let raw = try RawClient(cluster.address, id: "raw-big")
        let big = Payload(encoding: .raw, data: Data(count: 3 << 19), typeName: "Data")
        raw.submit([TaskSpec(key: "big", function: "count-bytes", arguments: [.value(big)])], wants: ["big"])
        let refusal = try #require(await raw.outcome() as? RPCError)
        #expect(refusal.code == .resourceExhausted)
        #expect(refusal.message.contains("limit of 1048576 bytes"))
        #expect(cluster.scheduler.log().contains("refused an oversize message"))
        // Beyond twice the limit the transport resets the stream before Drover sees the message: the
        // client gets an error (no status), and nothing else changes. (Whether the scheduler's
        // handler learns why before it is cancelled is a race inside the transport: it logs what it
        // learns, so no line is promised.)
        let huge = try RawClient(cluster.address, id: "raw-huge")
        let hugePayload = Payload(encoding: .raw, data: Data(count: 3 << 20), typeName: "Data")
        huge.submit([TaskSpec(key: "huge", function: "count-bytes", arguments: [.value(hugePayload)])], wants: [])
        #expect(await huge.outcome() != nil)
        // The scheduler goes on serving.
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        #expect(try await client.submit(Builtins.add, 2, 3).result() == 5)
        await client.close()
    }

    @Test func aForgedExitReportIsRefusedAndTheWorkerStays() async throws {
        let cluster = try await LocalTestCluster(workers: 1)
        defer { cluster.stop() }
        let forged = Drover_V1_WorkerExitReport.with {
            $0.workerID = "w0"; $0.address = cluster.workerAddresses[0]; $0.cause = "forged"
            $0.nanny = "127.0.0.1:1"
        }
        let refusal = try await #require(throws: RPCError.self) {
            try await Self.call(cluster.address) { try await $0.reportWorkerExit(forged) }
        }
        #expect(refusal.code == .permissionDenied)
        #expect(refusal.message.contains("'w0'"))
        let identity = try await Self.call(cluster.address) { try await $0.identity(.init()) }
        #expect(identity.workers == 1)
        #expect(cluster.scheduler.log().contains("refused an exit report"))
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        #expect(try await client.submit(Builtins.add, 1, 1).result() == 2)
        await client.close()
    }

    @Test func aSmallResultRidesInlineAndNeedsNoGetData() async throws {
        let cluster = try await LocalTestCluster(workers: 1)
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        let future = try client.submit(Builtins.add, 40, 2)
        _ = try await client.wait([future])
        // The only worker cannot answer a GetData now: the value must already be here.
        cluster.workers[0].signal(SIGSTOP)
        defer { cluster.workers[0].signal(SIGCONT) }
        #expect(try await future.result() == 42)
        await client.close()
    }

    @Test func aHolderThatKeepsRefusingGetDataIsAnErrorNotAnEndlessWait() async throws {
        let cluster = try await LocalTestCluster(workers: 0, schedulerArguments: ["--worker-ttl", "0"])
        defer { cluster.stop() }
        // A worker the scheduler believes in, at an address where nothing listens.
        let fake = try RawWorker(cluster.address, id: "fake", serving: "127.0.0.1:1", nbytes: 4096)
        defer { fake.stop() }
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        try await client.waitForWorkers(1)
        let future = try client.submit(Builtins.add, 1, 2)
        let error = await #expect(throws: ClientError.self) { try await future.result() }
        #expect(error?.message.contains("Could not fetch 1 results from the worker at 127.0.0.1:1") == true)
        await client.close()
    }

    @Test func aWorkerClosedWhileItsTaskNeverEndsStopsAfterItsCloseTimeout() async throws {
        let cluster = try await LocalTestCluster(workers: 1, threads: 1, workerArguments: ["--close-timeout", "1"])
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        // A body that blocks its thread for an hour: nothing in the worker can end it.
        _ = try client.submit(Remote.blockingSleep, 3_600_000)
        try await eventually(client, attempts: 1200) { $0.workers.first?.executing == 1 }
        // The scheduler closes a worker without a nanny on shutdown; the body is not waited for.
        await client.shutdown()
        let worker = cluster.workers[0]
        let status = await worker.exit(within: .seconds(30))
        #expect(status == 0, "the worker did not stop cleanly; its log:\n\(worker.log())")
        #expect(worker.log().contains("stopping with task bodies still running"))
    }

    @Test func aHungWorkerIsRemovedAfterItsTTLAndRejoinsWhenItWakes() async throws {
        let cluster = try await LocalTestCluster(workers: 2, schedulerArguments: ["--worker-ttl", "2"])
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        let futures = try client.map(Builtins.sleep, Array(repeating: 0.05, count: 80))
        _ = try await client.wait(futures, returnWhen: .firstCompleted)
        cluster.workers[0].signal(SIGSTOP)
        // Everything finishes on the other worker (its unstarted tasks are stolen without its
        // answer), and the stopped one is removed.
        #expect(try await client.gather(futures).count == 80)
        try await eventually(client) { $0.workers.count == 1 }
        #expect(cluster.scheduler.log().contains("worker removed"))
        cluster.workers[0].signal(SIGCONT)
        // It learns it was removed, registers afresh, and computes correctly.
        try await client.waitForWorkers(2)
        let pinned = try client.submit(Builtins.add, 20, 22, workers: ["w0"])
        #expect(try await pinned.result() == 42)
        let status = try await client.status()
        #expect(status.workers.count == 2)
        #expect(cluster.workers[0].log().contains("The scheduler removed this worker"))
        await client.close()
    }

    /// A client that sets a ~1 MB variable, asks for it 200 times (~200 MB of answers) and reads
    /// none of them, over the wire or over gRPC; ends when cancelled.
    static func neverReadingClient(_ address: String, grpc: Bool) throws -> Task<Void, any Error> {
        let endpoint = try #require(HostAndPort(address))
        let value = Drover_V1_Payload.with {
            $0.encoding = .raw
            $0.data = Data(repeating: 7, count: 1_000_000)
        }
        var events: [Drover_V1_ClientEvents] = [
            .with { $0.events = [.with { $0.register = .with { $0.id = "never-reads" } }] },
            .with {
                $0.events = [
                    .with {
                        $0.setVariable = .with {
                            $0.name = "big"
                            $0.value = value
                        }
                    }
                ]
            },
        ]
        for part in 0..<4 {
            events.append(
                .with {
                    $0.events = (0..<50).map { index in
                        .with {
                            $0.getVariable = .with {
                                $0.name = "big"
                                $0.request = UInt64(part * 50 + index)
                            }
                        }
                    }
                })
        }
        let requests = events
        return Task {
            if grpc {
                try await withGRPCClient(transport: try Transports.makeClient(to: endpoint)) { client in
                    try await Drover_V1_Scheduler.Client(wrapping: client).clientStream(
                        requestProducer: { writer in
                            for request in requests { try await writer.write(request) }
                            try await Task.sleep(for: .seconds(60))
                        },
                        onResponse: { _ in try await Task.sleep(for: .seconds(60)) })
                }
            } else {
                try await WireClient.bidirectional(
                    .client, to: endpoint, security: .insecurePlaintext,
                    requestProducer: { (writer: RPCWriter<Drover_V1_ClientEvents>) in
                        for request in requests { try await writer.write(request) }
                        try await Task.sleep(for: .seconds(60))
                    },
                    onResponse: { (_: RPCAsyncSequence<Drover_V1_ClientUpdates, any Error>) in
                        try await Task.sleep(for: .seconds(60))
                    })
            }
        }
    }

    @Test(arguments: [false, true])
    func aClientThatStopsReadingIsCutOffAtTheUnsentLimitAndTheSchedulerServesOn(grpc: Bool) async throws {
        // With 1 MiB messages, what may wait unsent for one client is 128 MiB.
        let cluster = try await LocalTestCluster(workers: 1, schedulerArguments: ["--max-message-bytes", "1048576"])
        defer { cluster.stop() }
        let stream = try Self.neverReadingClient(cluster.address, grpc: grpc)
        defer { stream.cancel() }
        let line = "closed the connection of a peer that stopped reading"
        var cutOff = false
        for _ in 0..<400 where !cutOff {
            cutOff = cluster.scheduler.log().contains(line)
            if !cutOff { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(cutOff, "\(cluster.scheduler.log())")
        // Its stream is over: the scheduler counts no client.
        var clients = Int32(-1)
        for _ in 0..<100 where clients != 0 {
            clients = try await Self.call(cluster.address) { try await $0.identity(.init()) }.clients
            if clients != 0 { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(clients == 0)
        // The scheduler serves on.
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        #expect(try await client.submit(Builtins.add, 1, 2).result() == 3)
        await client.close()
    }
}
