import DroverClient
import DroverCore
import DroverProto
import DroverTestKit
import Foundation
import GRPCCore
import NIOCore
import NIOPosix
import SwiftProtobuf
import Testing

/// The scheduler's wire front with real processes: Drover's own length-prefixed streams and gRPC
/// on one port, TLS and roles over the wire, and bad input that ends only its own connection.
@Suite(.timeLimit(.minutes(1))) struct WireTests {
    /// Opens a wire stream of `kind` that sends `events` and collects what comes back until the
    /// scheduler ends the stream.
    static func exchange<Request: SwiftProtobuf.Message & Sendable, Response: SwiftProtobuf.Message & Sendable>(
        _ kind: WireStreamKind, _ address: String, security: Security, sending events: [Request],
        receiving: Response.Type
    ) async throws -> [Response] {
        let endpoint = try #require(HostAndPort(address))
        return try await WireClient.bidirectional(
            kind, to: endpoint, security: security,
            requestProducer: { writer in
                for event in events { try await writer.write(event) }
                // Keep the stream open: the scheduler's answer (or refusal) ends it.
                try await Task.sleep(for: .seconds(30))
            },
            onResponse: { (responses: RPCAsyncSequence<Response, any Error>) in
                var received: [Response] = []
                for try await response in responses { received.append(response) }
                return received
            })
    }

    /// Sends `bytes` on a plain TCP connection and reads until the server closes it (or 30 s pass).
    static func rawExchange(_ address: String, bytes: [UInt8]) async throws -> (received: Int, closed: Bool) {
        let endpoint = try #require(HostAndPort(address))
        return try await rawExchange(
            to: try NIOCore.SocketAddress.makeAddressResolvingHost(endpoint.host, port: endpoint.port), bytes: bytes)
    }

    /// Sends `bytes` on a plain connection to `address` and reads until the server closes it (or 30 s pass).
    static func rawExchange(to address: NIOCore.SocketAddress, bytes: [UInt8]) async throws -> (
        received: Int, closed: Bool
    ) {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(to: address) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(bytes: bytes))
            return try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
                group.addTask {
                    var received = 0
                    do {
                        for try await buffer in inbound { received += buffer.readableBytes }
                    } catch {}
                    return (received, true)
                }
                group.addTask {
                    try await Task.sleep(for: .seconds(30))
                    return (0, false)
                }
                defer { group.cancelAll() }
                return try await group.next()!
            }
        }
    }

    @Test func gRPCWorkersAndAWireClientShareTheSchedulersPort() async throws {
        let cluster = try await LocalTestCluster(workers: 2, workerEnvironment: ["DROVER_PROTOCOL": "grpc"])
        defer { cluster.stop() }
        #expect(try await SecurityTests.computeTheExercise(cluster.address, security: .insecurePlaintext) == 145)
    }

    @Test func aGRPCClientProcessComputesOnWireWorkers() async throws {
        let cluster = try await LocalTestCluster(workers: 2)
        defer { cluster.stop() }
        var environment = ProcessInfo.processInfo.environment
        environment["DROVER_PROTOCOL"] = "grpc"
        let demo = try ProcessHarness(
            TestBinaries.testTasks, ["demo", "cluster", "--scheduler", cluster.address], environment: environment,
            name: "grpc-client")
        let line = try await demo.line(startingWith: "exercise with submit (0.5 s steps)")
        #expect(line.contains("145"))
        demo.stop()
    }

    @Test func theWireTellsAPlaintextClientTheSchedulerRequiresTLSAndTheReverse() async throws {
        let (secure, security) = try await SecurityTests.cluster()
        defer { secure.stop() }
        let plaintextAttempt = try await #require(throws: RPCError.self) {
            _ = try await Self.exchange(
                .client, secure.address, security: .insecurePlaintext, sending: [Drover_V1_ClientEvents](),
                receiving: Drover_V1_ClientUpdates.self)
        }
        #expect(plaintextAttempt.code == .unavailable)
        #expect(plaintextAttempt.message.contains("The scheduler at \(secure.address) requires TLS"))

        let plaintext = try await LocalTestCluster(workers: 0)
        defer { plaintext.stop() }
        let tlsAttempt = try await #require(throws: RPCError.self) {
            _ = try await Self.exchange(
                .client, plaintext.address, security: security, sending: [Drover_V1_ClientEvents](),
                receiving: Drover_V1_ClientUpdates.self)
        }
        #expect(tlsAttempt.message.contains("The scheduler at \(plaintext.address) does not use TLS"))
        #expect(try await SecurityTests.computeTheExercise(secure.address, security: security) == 145)
    }

    @Test func aClientCertificateMayNotOpenAWorkerStreamOverTheWire() async throws {
        let (cluster, client) = try await SecurityTests.cluster()
        defer { cluster.stop() }
        let registration = Drover_V1_WorkerEvents.with {
            $0.events = [
                .with {
                    $0.register = .with {
                        $0.id = "impostor"
                        $0.address = "127.0.0.1:1"
                        $0.threads = 8
                    }
                }
            ]
        }
        let error = try await #require(throws: RPCError.self) {
            _ = try await Self.exchange(
                .worker, cluster.address, security: client, sending: [registration],
                receiving: Drover_V1_WorkerCommands.self)
        }
        #expect(error.code == .permissionDenied)
        #expect(
            error.message == "drover.v1.Scheduler/WorkerStream needs a worker certificate; the caller's names client.")
        #expect(cluster.scheduler.log().contains("refused a call"))
        #expect(cluster.scheduler.log().contains("OU=client"))
        #expect(try await SecurityTests.computeTheExercise(cluster.address, security: client) == 145)
    }

    /// The refusal comes from the certificate alone, as the TLS handshake ends: a peer that sends
    /// no frame at all is told, so the scheduler never decodes (or buffers) a refused peer's frame.
    @Test func aRefusedCertificateIsToldBeforeItSendsAnyFrame() async throws {
        let (cluster, client) = try await SecurityTests.cluster()
        defer { cluster.stop() }
        let error = try await #require(throws: RPCError.self) {
            _ = try await Self.exchange(
                .worker, cluster.address, security: client, sending: [Drover_V1_WorkerEvents](),
                receiving: Drover_V1_WorkerCommands.self)
        }
        #expect(error.code == .permissionDenied, "\(error)")
        #expect(error.message.contains("needs a worker certificate"), "\(error)")
    }

    @Test func anOversizeWireMessageIsRefusedNamingTheLimit() async throws {
        let cluster = try await LocalTestCluster(workers: 1, schedulerArguments: ["--max-message-bytes", "65536"])
        defer { cluster.stop() }
        let register = Drover_V1_ClientEvents.with { $0.events = [.with { $0.register = .with { $0.id = "big" } }] }
        let oversize = Drover_V1_ClientEvents.with {
            $0.events = [
                .with {
                    $0.release = .with { $0.keys = Array(repeating: String(repeating: "k", count: 1000), count: 100) }
                }
            ]
        }
        let error = try await #require(throws: RPCError.self) {
            _ = try await Self.exchange(
                .client, cluster.address, security: .insecurePlaintext, sending: [register, oversize],
                receiving: Drover_V1_ClientUpdates.self)
        }
        #expect(error.code == .resourceExhausted)
        #expect(error.message.contains("over this server's limit of 65536 bytes"))
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        #expect(try await client.submit(Builtins.add, 1, 2).result() == 3)
        await client.close()
    }

    /// A listening socket nobody accepts on: the kernel completes the TCP handshake, and nothing
    /// is ever said. Its address.
    static func silentServer() async throws -> (any Channel, String) {
        let silent = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.autoRead, value: false)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(silent.localAddress?.port)
        return (silent, "127.0.0.1:\(port)")
    }

    /// A client stream to `address` that sends nothing of its own.
    static func idleClientStream(_ address: String) async throws {
        _ = try await exchange(
            .client, address, security: .insecurePlaintext, sending: [Drover_V1_ClientEvents](),
            receiving: Drover_V1_ClientUpdates.self)
    }

    @Test func aServerThatNeverAnswersThePrefaceIsAnErrorNotAWait() async throws {
        let (silent, address) = try await Self.silentServer()
        defer { silent.close(promise: nil) }
        let error = try await #require(throws: RPCError.self) { try await Self.idleClientStream(address) }
        #expect(error.code == .deadlineExceeded)
        #expect(error.message.contains("did not answer the wire preface"))
    }

    @Test func cancellingAStreamThatIsStillConnectingEndsItThen() async throws {
        // Without cancelling, the stream would end at the preface's 10 s deadline with
        // `deadlineExceeded`.
        let (silent, address) = try await Self.silentServer()
        defer { silent.close(promise: nil) }
        let (started, didStart) = AsyncStream<Void>.makeStream()
        let stream = Task {
            didStart.yield()
            try await Self.idleClientStream(address)
        }
        for await _ in started { break }
        try await Task.sleep(for: .milliseconds(200))
        stream.cancel()
        await #expect(throws: CancellationError.self) { try await stream.value }
    }

    @Test func aSwiftClientsOversizeSubmissionFailsItsFuturesNamingTheLimit() async throws {
        let cluster = try await LocalTestCluster(workers: 1, schedulerArguments: ["--max-message-bytes", "65536"])
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        // One SubmitGraph of 5,000 tasks: several times the scheduler's limit.
        let futures = try client.map(Builtins.noop, Array(0..<5000), pure: false)
        let error = try await #require(throws: ClientError.self) { try await client.gather(futures) }
        #expect(error.message.contains("limit of 65536 bytes"))
        #expect(cluster.scheduler.log().contains("refused an oversize message"))
        await client.close()
        let next = try await Client.connect(cluster.address, setAsDefault: false)
        #expect(try await next.submit(Builtins.add, 1, 2).result() == 3)
        await next.close()
    }

    @Test func badBytesEndOnlyTheirOwnConnection() async throws {
        let cluster = try await LocalTestCluster(workers: 1)
        defer { cluster.stop() }
        let preface = Array("DROVER/1".utf8)
        // A stream kind that does not exist: closed without an answer.
        let unknownKind = try await Self.rawExchange(cluster.address, bytes: preface + [77])
        #expect(unknownKind.closed)
        #expect(unknownKind.received == 0)
        // A frame of an unknown type after a valid preface: answered ("P"), then closed.
        let badFrame = try await Self.rawExchange(cluster.address, bytes: preface + [2, 0, 0, 0, 1, 9])
        #expect(badFrame.closed)
        // Half a preface and then silence: closed once the negotiation deadline passes.
        let silent = try await Self.rawExchange(cluster.address, bytes: Array("DRO".utf8))
        #expect(silent.closed)
        #expect(silent.received == 0)
        // A whole preface and then no first frame: answered ("P"), then closed at the deadline.
        let mute = try await Self.rawExchange(cluster.address, bytes: preface + [2])
        #expect(mute.closed)
        #expect(mute.received == 1)
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        #expect(try await client.submit(Builtins.add, 1, 2).result() == 3)
        await client.close()
    }
}
