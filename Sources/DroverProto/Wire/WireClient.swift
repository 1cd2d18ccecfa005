public import DroverCore
import Foundation
public import GRPCCore
import NIOCore
import NIOPosix
import NIOSSL
public import SwiftProtobuf

/// Opens wire streams to a scheduler (see ``WireFrame``): what a worker's `WorkerStream` and a
/// client's `ClientStream` use unless `DROVER_PROTOCOL=grpc` asks for gRPC.
public enum WireClient {
    /// How the scheduler's hot streams travel, from `DROVER_PROTOCOL` (`wire`, the default, or `grpc`).
    public static var useGRPC: Bool {
        ProcessInfo.processInfo.environment["DROVER_PROTOCOL"] == "grpc"
    }

    /// How long connecting, the answer to the preface and the TLS handshake may take.
    static let connectTimeout = TimeAmount.seconds(10)

    /// A bidirectional stream of `kind` to the scheduler at `endpoint`, shaped like grpc-swift's:
    /// `requestProducer` writes requests (returning sends `end`), `onResponse` reads responses;
    /// the call ends when `onResponse` returns. A `status` frame from the scheduler is thrown as
    /// its `RPCError`.
    ///
    /// - Throws: `RPCError` (`unavailable` with one sentence when the two ends disagree about
    ///   TLS), the connection's errors, and whatever the closures throw.
    public static func bidirectional<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message, Result: Sendable>(
        _ kind: WireStreamKind, to endpoint: HostAndPort, security: Security,
        maxMessageBytes: Int = TransportLimits.maxMessageBytes,
        requestProducer: @escaping @Sendable (RPCWriter<Request>) async throws -> Void,
        onResponse: @escaping @Sendable (RPCAsyncSequence<Response, any Error>) async throws -> Result
    ) async throws -> Result {
        let tls = try security.tlsFiles.map { try WireTLS.clientContext($0) }
        let channel = try await connect(kind, to: endpoint, tls: tls)
        let nioChannel = channel.channel
        // A cancelled call closes the connection, which ends its reads and writes.
        return try await withTaskCancellationHandler {
            try await exchange(
                over: channel, requestProducer: requestProducer, onResponse: onResponse,
                maxMessageBytes: maxMessageBytes)
        } onCancel: {
            nioChannel.close(promise: nil)
        }
    }

    /// A stream of `kind` to the scheduler at `endpoint` whose messages skip the task hand-offs
    /// both ways: each batch `outbox` receives goes out as the messages `requests` makes of it,
    /// written by the connection's event loop (``StreamOutput``), and each response is decoded and
    /// handed to `onResponse` on the event loop that read it, so `onResponse` must not block.
    /// `onConnected` runs once the connection is set up, before any response. Finishing `outbox`
    /// sends `end`; the call returns when the scheduler ends the stream.
    ///
    /// - Throws: The scheduler's `status` frame as its `RPCError`; `RPCError` (`unavailable` with
    ///   one sentence when the two ends disagree about TLS, `invalidArgument` for a message that
    ///   does not decode); the connection's errors.
    public static func stream<Element: Sendable, Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ kind: WireStreamKind, to endpoint: HostAndPort, security: Security,
        maxMessageBytes: Int = TransportLimits.maxMessageBytes,
        sending outbox: BatchingQueue<Element>, as requests: @escaping @Sendable ([Element]) -> [Request],
        onConnected: @Sendable () -> Void = {}, onResponse: @escaping @Sendable (Response) -> Void
    ) async throws {
        let tls = try security.tlsFiles.map { try WireTLS.clientContext($0) }
        let channel = try await connect(
            kind, to: endpoint, tls: tls, handlers: [WireInbox<Response>(handle: onResponse)])
        let nioChannel = channel.channel
        let output = StreamOutput<Request>(channel: nioChannel)
        onConnected()
        try await withTaskCancellationHandler {
            try await exchange(
                over: channel,
                requestProducer: { (_: RPCWriter<Request>) in try await output.forward(outbox, as: requests) },
                onResponse: { (responses: RPCAsyncSequence<Response, any Error>) in
                    // Only frames the event loop did not handle come here: the stream's end.
                    for try await response in responses { onResponse(response) }
                },
                maxMessageBytes: maxMessageBytes)
        } onCancel: {
            nioChannel.close(promise: nil)
        }
    }

    private static func exchange<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message, Result: Sendable>(
        over channel: NIOAsyncChannel<WireFrame, WireFrame>,
        requestProducer: @escaping @Sendable (RPCWriter<Request>) async throws -> Void,
        onResponse: @escaping @Sendable (RPCAsyncSequence<Response, any Error>) async throws -> Result,
        maxMessageBytes: Int
    ) async throws -> Result {
        try await channel.executeThenClose { inbound, outbound in
            try await withThrowingTaskGroup(of: Result?.self) { group in
                group.addTask {
                    // A write fails when the connection has failed; the reading side then has the
                    // cause (a TLS alert, the scheduler's status), so that is the call's error.
                    try? await requestProducer(RPCWriter(wrapping: WireWriter<Request>(outbound: outbound)))
                    try? await outbound.write(WireFrame(kind: .end, body: ByteBuffer()))
                    return nil
                }
                let responses = WireMessages<Response>(
                    frames: IteratorHandOver(inbound.makeAsyncIterator()), first: nil, peer: "scheduler",
                    maxMessageBytes: maxMessageBytes)
                group.addTask { try await onResponse(RPCAsyncSequence(wrapping: responses)) }
                defer { group.cancelAll() }
                while let finished = try await group.next() {
                    if let result = finished { return result }
                }
                throw RPCError(code: .internalError, message: "The wire stream ended without a response.")
            }
        }
    }

    /// Connects, sends the preface, and sets up TLS and framing as the scheduler answers.
    /// `handlers` go after the framing (a ``WireInbox`` that handles messages on the event loop).
    static func connect(
        _ kind: WireStreamKind, to endpoint: HostAndPort, tls: NIOSSLContext?,
        handlers: @autoclosure @escaping @Sendable () -> [any ChannelHandler] = []
    ) async throws -> NIOAsyncChannel<WireFrame, WireFrame> {
        try await connect(kind, to: endpoint, tls: tls, peerName: "scheduler") { channel in
            try channel.pipeline.syncOperations.addHandlers(
                [
                    ByteToMessageHandler(WireFrameDecoder(maxFrameBytes: TransportLimits.maxMessageBytes + 1)),
                    MessageToByteHandler(WireFrameEncoder()),
                ] + handlers())
            return try NIOAsyncChannel<WireFrame, WireFrame>(wrappingChannelSynchronously: channel)
        }
    }

    /// Connects, sends the preface, and once the server has answered (and TLS, when both ends use
    /// it, is in the pipeline) calls `install` on the event loop to add the stream's own handlers;
    /// bytes that came with the answer then go to them.
    ///
    /// - Parameters:
    ///   - peerName: What the server is, for messages ("scheduler", "worker").
    ///   - receiveBufferBytes: The size of the socket reads, when the stream wants large ones.
    static func connect<Ready: Sendable>(
        _ kind: WireStreamKind, to endpoint: HostAndPort, tls: NIOSSLContext?, peerName: String,
        receiveBufferBytes: Int? = nil, install: @escaping @Sendable (any Channel) throws -> Ready
    ) async throws -> Ready {
        let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
        let ready = eventLoop.makePromise(of: Ready.self)
        let serverHostname = Self.isIPAddress(endpoint.host) ? nil : endpoint.host
        let description = "\(endpoint)"
        // NIO leaves TCP_NODELAY out on a Unix socket.
        var bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
        if let receiveBufferBytes {
            bootstrap = bootstrap.channelOption(
                .recvAllocator,
                value: AdaptiveRecvByteBufferAllocator(
                    minimum: 64 << 10, initial: receiveBufferBytes, maximum: receiveBufferBytes))
        }
        bootstrap = bootstrap.channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(
                    WireNegotiator(
                        kind: kind, tls: tls, serverHostname: serverHostname, endpoint: description,
                        peerName: peerName, install: install, ready: ready))
            }
        }
        let connected =
            if let path = endpoint.unixSocket {
                bootstrap.connect(unixDomainSocketPath: path)
            } else {
                bootstrap.connect(host: endpoint.host, port: endpoint.port)
            }
        // One promise for both phases, so that cancelling (or a deadline) ends either: a connection
        // made after the promise failed is closed at once. Failing a completed promise changes nothing.
        connected.whenComplete { result in
            switch result {
            case .success(let channel):
                // Whatever fails the negotiation (the deadline, a refusal, cancelling) closes the
                // connection.
                ready.futureResult.whenFailure { _ in channel.close(promise: nil) }
                let deadline = eventLoop.scheduleTask(in: connectTimeout) {
                    ready.fail(
                        RPCError(
                            code: .deadlineExceeded,
                            message: "The \(peerName) at \(description) did not answer the wire preface within "
                                + "\(connectTimeout.nanoseconds / 1_000_000_000) s."))
                }
                ready.futureResult.whenComplete { _ in deadline.cancel() }
            case .failure(let error):
                ready.fail(error)
            }
        }
        return try await withTaskCancellationHandler {
            try await ready.futureResult.get()
        } onCancel: {
            ready.fail(CancellationError())
        }
    }

    static func isIPAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }
}

/// The client's side of the preface: sends it, reads the one-byte answer, then installs TLS (when
/// both ends use it) and the stream's handlers, and hands the connection over.
final class WireNegotiator<Ready: Sendable>: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let kind: WireStreamKind
    private let tls: NIOSSLContext?
    private let serverHostname: String?
    private let endpoint: String
    private let peerName: String
    private let install: @Sendable (any Channel) throws -> Ready
    private let ready: EventLoopPromise<Ready>
    private var done = false

    init(
        kind: WireStreamKind, tls: NIOSSLContext?, serverHostname: String?, endpoint: String, peerName: String,
        install: @escaping @Sendable (any Channel) throws -> Ready, ready: EventLoopPromise<Ready>
    ) {
        self.kind = kind
        self.tls = tls
        self.serverHostname = serverHostname
        self.endpoint = endpoint
        self.peerName = peerName
        self.install = install
        self.ready = ready
    }

    func channelActive(context: ChannelHandlerContext) {
        var preface = context.channel.allocator.buffer(capacity: WireFrame.preface.count + 1)
        preface.writeBytes(WireFrame.preface)
        preface.writeInteger(kind.rawValue)
        context.writeAndFlush(wrapOutboundOut(preface), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        var bytes = unwrapInboundIn(data)
        guard let answer = bytes.readInteger(as: UInt8.self) else { return }
        done = true
        let mismatch: String? =
            switch (answer, tls != nil) {
            case (UInt8(ascii: "T"), false):
                "The \(peerName) at \(endpoint) requires TLS: pass --tls-ca-file, --tls-cert and --tls-key "
                    + "(or DROVER_TLS_*)."
            case (UInt8(ascii: "P"), true):
                "The \(peerName) at \(endpoint) does not use TLS: start it with --tls-ca-file, --tls-cert and "
                    + "--tls-key, or connect without certificates."
            case (UInt8(ascii: "T"), true), (UInt8(ascii: "P"), false): nil
            default:
                "The server at \(endpoint) is not a Drover \(peerName) (it answered the wire preface with \(answer))."
            }
        if let mismatch {
            ready.fail(RPCError(code: .unavailable, message: mismatch))
            context.close(promise: nil)
            return
        }
        do {
            let operations = context.pipeline.syncOperations
            var handlers: [any ChannelHandler] = []
            if let tls { handlers.append(try NIOSSLClientHandler(context: tls, serverHostname: serverHostname)) }
            try operations.addHandlers(handlers, position: .after(self))
            let wrapped = try install(context.channel)
            if bytes.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(bytes)) }
            operations.removeHandler(self, promise: nil)
            ready.succeed(wrapped)
        } catch {
            ready.fail(error)
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !done {
            done = true
            ready.fail(
                RPCError(code: .unavailable, message: "The \(peerName) at \(endpoint) closed the connection."))
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !done {
            done = true
            ready.fail(error)
        }
        context.close(promise: nil)
    }
}

/// NIOSSL contexts from the cluster's certificate files, configured as the gRPC transports are:
/// mutual TLS, the server checking the client's certificate against the CA (not its host), the
/// client checking the server's against the CA and the address it dialled.
enum WireTLS {
    typealias Files = (ca: String, certificate: String, key: String)

    static func serverContext(_ files: Files) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(files.certificate).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: files.key, format: .pem)))
        configuration.trustRoots = .file(files.ca)
        configuration.certificateVerification = .noHostnameVerification
        return try NIOSSLContext(configuration: configuration)
    }

    static func clientContext(_ files: Files) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(files.certificate).map { .certificate($0) }
        configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: files.key, format: .pem))
        configuration.trustRoots = .file(files.ca)
        configuration.certificateVerification = .fullVerification
        return try NIOSSLContext(configuration: configuration)
    }
}
