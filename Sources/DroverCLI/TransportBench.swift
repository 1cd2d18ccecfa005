import ArgumentParser
import DroverCore
import DroverProto
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import NIOCore
import NIOExtras
import NIOPosix
import SwiftProtobuf

/// `drover bench transport`: the floor under the scheduler↔worker hot path. The same drover.v1
/// batches (`WorkerCommands` of `ComputeTask`s one way, `WorkerEvents` of `TaskFinished` back)
/// cross (i) a gRPC bidirectional stream, as Drover's processes talk today, and (ii) lean framing:
/// 4-byte length-prefixed protobuf over a plain socket (swift-nio, swift-nio-extras' length-field
/// codecs), each over TCP on loopback and over a Unix-domain socket. The far end is a "zero
/// worker": it decodes each batch and answers with one `TaskFinished` per task, no scheduling.
struct TransportBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transport",
        abstract: "gRPC streams against length-prefixed protobuf over TCP and Unix sockets (one process).",
        discussion: """
            (b) round trip: one batch of one task, answered, one at a time (median and p99). \
            (a) throughput: --tasks tasks in batches of --batch, at most --window batches unanswered. \
            Both ends run in this process on the same event loops, so the figures compare transports, \
            not deployments.
            """
    )

    @Option(help: "Sequential round trips for (b).")
    var roundTrips = 5000

    @Option(help: "Tasks for (a).")
    var tasks = 200_000

    @Option(help: "Tasks per batch message for (a), comma-separated (1 = a message per task).")
    var batch = "1,100"

    @Option(help: "Batches in flight for (a).")
    var window = 16

    @Option(help: "Runs per measurement; the median is reported.")
    var repeats = 3

    func run() async throws {
        #if DEBUG
            print("warning: this is a debug build; measure with `swift run -c release drover bench transport`")
        #endif
        let batches = batch.split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 }
        guard !batches.isEmpty, tasks > 0, window > 0, roundTrips > 0, repeats > 0 else {
            throw ValidationError("--batch, --tasks, --window, --round-trips and --repeats must be positive.")
        }
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("drover-transport-\(getpid())").path
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        print("\(ProcessInfo.processInfo.activeProcessorCount) cores; median of \(repeats) runs")
        var rows: [[String]] = []
        var floors: [String: (roundTrip: Double, throughput: [Int: Double])] = [:]
        for kind in TransportKind.allCases {
            let socketPath = "\(directory)/\(kind.rawValue).sock"
            let measured = try await kind.withConnection(socketPath: socketPath) { connection in
                _ = try await connection.exchange(Self.commands(count: 1, first: 0))  // warm-up
                var roundTrip: [Duration] = []
                for index in 0..<roundTrips {
                    let start = ContinuousClock.now
                    let events = try await connection.exchange(Self.commands(count: 1, first: index))
                    roundTrip.append(ContinuousClock.now - start)
                    guard events.events.count == 1 else {
                        throw ValidationError("a batch of 1 got \(events.events.count)")
                    }
                }
                roundTrip.sort()
                var throughput: [Int: Double] = [:]
                for size in batches {
                    var times: [Duration] = []
                    for _ in 0..<repeats {
                        let start = ContinuousClock.now
                        try await connection.pipeline(tasks: tasks, batch: size, window: window)
                        times.append(ContinuousClock.now - start)
                    }
                    throughput[size] = Double(tasks) / LocalBench.median(times).inSeconds
                }
                return (
                    median: LocalBench.median(roundTrip).inSeconds * 1e6,
                    p99: roundTrip[min(roundTrip.count - 1, roundTrip.count * 99 / 100)].inSeconds * 1e6,
                    throughput: throughput
                )
            }
            floors[kind.rawValue] = (measured.median, measured.throughput)
            var row = [kind.label, String(format: "%.0f µs", measured.median), String(format: "%.0f µs", measured.p99)]
            for size in batches { row.append("\(Int(measured.throughput[size] ?? 0)) tasks/s") }
            rows.append(row)
        }
        print(
            Table(
                headers: ["transport", "(b) round trip, median", "p99"] + batches.map { "(a) batches of \($0)" },
                rows: rows
            ).render())
        // The decision the fast-path issue asks for: lean framing over gRPC, same socket kind.
        for (lean, grpc) in [("lean-tcp", "grpc-tcp"), ("lean-uds", "grpc-uds")] {
            guard let l = floors[lean], let g = floors[grpc] else { continue }
            var parts = [String(format: "round trip %.2fx", g.roundTrip / l.roundTrip)]
            for size in batches {
                if let lt = l.throughput[size], let gt = g.throughput[size] {
                    parts.append(String(format: "batches of %d %.2fx", size, lt / gt))
                }
            }
            print("\(lean) vs \(grpc) (above 1: lean is faster): " + parts.joined(separator: ", "))
        }
    }

    /// A scheduler's batch: `count` no-op tasks, each with one small literal argument.
    static func commands(count: Int, first: Int) -> Drover_V1_WorkerCommands {
        .with { batch in
            batch.commands = (first..<(first + count)).map { index in
                .with {
                    $0.compute = .with { task in
                        task.spec = .with { spec in
                            spec.key = "noop-\(String(index, radix: 16, uppercase: false).leftPadded(to: 32))"
                            spec.function = "noop"
                            spec.arguments = [
                                .with {
                                    $0.value = .with { payload in
                                        payload.encoding = .int64Le
                                        payload.typeName = "Int"
                                        withUnsafeBytes(of: Int64(index).littleEndian) { payload.data = Data($0) }
                                    }
                                }
                            ]
                        }
                        task.priorityGeneration = 1
                        task.priorityIndex = Int64(index)
                    }
                }
            }
        }
    }

    /// A zero worker's answer: every task finished at once, its small result inline.
    static func events(answering commands: Drover_V1_WorkerCommands) -> Drover_V1_WorkerEvents {
        .with { batch in
            batch.events = commands.commands.map { command in
                .with {
                    $0.finished = .with { finished in
                        finished.key = command.compute.spec.key
                        finished.nbytes = 8
                        finished.durationSeconds = 0.000_001
                        finished.typeName = "Int"
                        finished.inline = command.compute.spec.arguments.first?.value ?? .init()
                    }
                }
            }
        }
    }
}

extension String {
    fileprivate func leftPadded(to length: Int) -> String {
        count >= length ? self : String(repeating: "0", count: length - count) + self
    }
}

/// One end of a benchmark connection: sends batches, receives answers in order.
protocol BenchConnection: Sendable {
    func send(_ commands: Drover_V1_WorkerCommands) async throws
    func receive() async throws -> Drover_V1_WorkerEvents
}

extension BenchConnection {
    func exchange(_ commands: Drover_V1_WorkerCommands) async throws -> Drover_V1_WorkerEvents {
        try await send(commands)
        return try await receive()
    }

    /// Sends `tasks` tasks in batches of `batch`, keeping at most `window` batches unanswered.
    func pipeline(tasks: Int, batch: Int, window: Int) async throws {
        let batchCount = (tasks + batch - 1) / batch
        var sent = 0
        var answered = 0
        var answeredTasks = 0
        while answered < batchCount {
            while sent < batchCount && sent - answered < window {
                let first = sent * batch
                try await send(TransportBench.commands(count: min(batch, tasks - first), first: first))
                sent += 1
            }
            answeredTasks += try await receive().events.count
            answered += 1
        }
        guard answeredTasks == tasks else { throw ValidationError("\(answeredTasks) of \(tasks) tasks answered") }
    }
}

enum TransportKind: String, CaseIterable {
    case grpcTCP = "grpc-tcp"
    case grpcUDS = "grpc-uds"
    case leanTCP = "lean-tcp"
    case leanUDS = "lean-uds"

    var label: String {
        switch self {
        case .grpcTCP: "gRPC stream, TCP loopback"
        case .grpcUDS: "gRPC stream, Unix socket"
        case .leanTCP: "length-prefixed, TCP loopback"
        case .leanUDS: "length-prefixed, Unix socket"
        }
    }

    /// Starts a zero-worker server of this kind, connects to it, runs `body`, and stops both.
    func withConnection<Result: Sendable>(
        socketPath: String, _ body: @Sendable (any BenchConnection) async throws -> Result
    ) async throws -> Result {
        switch self {
        case .grpcTCP: try await GRPCBench.withConnection(unixSocket: nil, body)
        case .grpcUDS: try await GRPCBench.withConnection(unixSocket: socketPath, body)
        case .leanTCP: try await LeanBench.withConnection(unixSocket: nil, body)
        case .leanUDS: try await LeanBench.withConnection(unixSocket: socketPath, body)
        }
    }
}

// MARK: - gRPC

/// A bidirectional stream like `Scheduler.WorkerStream`, on a method of its own.
enum GRPCBench {
    static let descriptor = MethodDescriptor(fullyQualifiedService: "drover.bench.Transport", method: "Stream")

    struct ZeroWorker: RegistrableRPCService {
        func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
            router.registerHandler(
                forMethod: GRPCBench.descriptor,
                deserializer: ProtobufDeserializer<Drover_V1_WorkerCommands>(),
                serializer: ProtobufSerializer<Drover_V1_WorkerEvents>(),
                handler: { request, _ in
                    StreamingServerResponse { writer in
                        for try await commands in request.messages {
                            try await writer.write(TransportBench.events(answering: commands))
                        }
                        return [:]
                    }
                }
            )
        }
    }

    /// The client's end: requests go through a stream the call's producer drains, answers
    /// arrive in a stream the response handler fills.
    final class Connection: BenchConnection, @unchecked Sendable {
        // @unchecked: `incoming` is used by one receiver at a time (the benchmark's loop).
        let outgoing: AsyncStream<Drover_V1_WorkerCommands>.Continuation
        var incoming: AsyncThrowingStream<Drover_V1_WorkerEvents, any Error>.AsyncIterator

        init(
            outgoing: AsyncStream<Drover_V1_WorkerCommands>.Continuation,
            incoming: AsyncThrowingStream<Drover_V1_WorkerEvents, any Error>
        ) {
            self.outgoing = outgoing
            self.incoming = incoming.makeAsyncIterator()
        }

        func send(_ commands: Drover_V1_WorkerCommands) async throws {
            outgoing.yield(commands)
        }

        func receive() async throws -> Drover_V1_WorkerEvents {
            guard let events = try await incoming.next() else { throw ValidationError("the stream ended") }
            return events
        }
    }

    static func withConnection<Result: Sendable>(
        unixSocket: String?, _ body: @Sendable (any BenchConnection) async throws -> Result
    ) async throws -> Result {
        let address: GRPCNIOTransportCore.SocketAddress =
            unixSocket.map { .unixDomainSocket(path: $0) } ?? .ipv4(host: "127.0.0.1", port: 0)
        let server = GRPCServer(
            transport: .http2NIOPosix(
                address: address, transportSecurity: .plaintext,
                config: TransportLimits.server(maxMessageBytes: TransportLimits.maxMessageBytes)),
            services: [ZeroWorker()])
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.serve() }
            defer {
                server.beginGracefulShutdown()
                group.cancelAll()
            }
            guard let bound = try await server.listeningAddress else { throw ValidationError("no address") }
            let target: any ResolvableTarget =
                if let path = unixSocket { .unixDomainSocket(path: path) } else {
                    .ipv4(address: "127.0.0.1", port: bound.ipv4?.port ?? 0)
                }
            let client = GRPCClient(
                transport: try .http2NIOPosix(
                    target: target, transportSecurity: .plaintext, config: TransportLimits.client))
            group.addTask { try await client.runConnections() }
            defer { client.beginGracefulShutdown() }
            let (outgoing, outgoingContinuation) = AsyncStream<Drover_V1_WorkerCommands>.makeStream()
            let (incoming, incomingContinuation) = AsyncThrowingStream<Drover_V1_WorkerEvents, any Error>
                .makeStream()
            group.addTask {
                do {
                    try await client.bidirectionalStreaming(
                        request: StreamingClientRequest { writer in
                            for await commands in outgoing { try await writer.write(commands) }
                        },
                        descriptor: descriptor, serializer: ProtobufSerializer<Drover_V1_WorkerCommands>(),
                        deserializer: ProtobufDeserializer<Drover_V1_WorkerEvents>(), options: .defaults
                    ) { response in
                        for try await events in response.messages { incomingContinuation.yield(events) }
                    }
                    incomingContinuation.finish()
                } catch {
                    incomingContinuation.finish(throwing: error)
                }
            }
            let connection = Connection(outgoing: outgoingContinuation, incoming: incoming)
            defer { outgoingContinuation.finish() }
            return try await body(connection)
        }
    }
}

// MARK: - Lean framing

/// Length-prefixed protobuf over a plain socket: `LengthFieldPrepender` and
/// `LengthFieldBasedFrameDecoder` (4 bytes, big-endian), nothing else in the pipeline.
enum LeanBench {
    /// The zero worker: decodes each frame and writes its answer.
    final class ZeroWorker: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var frame = unwrapInboundIn(data)
            do {
                let commands = try Drover_V1_WorkerCommands(
                    serializedBytes: frame.readBytes(length: frame.readableBytes) ?? [])
                let answer: [UInt8] = try TransportBench.events(answering: commands).serializedBytes()
                context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: answer)), promise: nil)
            } catch {
                context.close(promise: nil)
            }
        }

        func channelReadComplete(context: ChannelHandlerContext) {
            context.flush()
        }
    }

    final class Connection: BenchConnection, @unchecked Sendable {
        // @unchecked: `inbound` is used by one receiver at a time (the benchmark's loop).
        var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
        let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>

        init(inbound: NIOAsyncChannelInboundStream<ByteBuffer>, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) {
            self.inbound = inbound.makeAsyncIterator()
            self.outbound = outbound
        }

        func send(_ commands: Drover_V1_WorkerCommands) async throws {
            let bytes: [UInt8] = try commands.serializedBytes()
            try await outbound.write(ByteBuffer(bytes: bytes))
        }

        func receive() async throws -> Drover_V1_WorkerEvents {
            guard var frame = try await inbound.next() else { throw ValidationError("the connection closed") }
            return try Drover_V1_WorkerEvents(serializedBytes: frame.readBytes(length: frame.readableBytes) ?? [])
        }
    }

    static func addFraming(to channel: any Channel) throws {
        try channel.pipeline.syncOperations.addHandlers([
            ByteToMessageHandler(LengthFieldBasedFrameDecoder(lengthFieldBitLength: .fourBytes)),
            LengthFieldPrepender(lengthFieldBitLength: .fourBytes),
        ])
    }

    static func withConnection<Result: Sendable>(
        unixSocket: String?, _ body: @Sendable (any BenchConnection) async throws -> Result
    ) async throws -> Result {
        let group = MultiThreadedEventLoopGroup.singleton
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try addFraming(to: channel)
                    try channel.pipeline.syncOperations.addHandler(ZeroWorker())
                }
            }
        let server =
            if let path = unixSocket {
                try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
            } else {
                try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
            }
        let client = ClientBootstrap(group: group).channelOption(.tcpOption(.tcp_nodelay), value: 1)
        let initializer: @Sendable (any Channel) -> EventLoopFuture<NIOAsyncChannel<ByteBuffer, ByteBuffer>> = {
            channel in
            channel.eventLoop.makeCompletedFuture {
                try addFraming(to: channel)
                return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
        let channel =
            if let path = unixSocket {
                try await client.connect(unixDomainSocketPath: path, channelInitializer: initializer)
            } else {
                try await client.connect(
                    host: "127.0.0.1", port: server.localAddress?.port ?? 0, channelInitializer: initializer)
            }
        do {
            let result = try await channel.executeThenClose { inbound, outbound in
                try await body(
                    Connection(inbound: inbound, outbound: outbound))
            }
            try await server.close()
            return result
        } catch {
            try? await server.close()
            throw error
        }
    }
}
