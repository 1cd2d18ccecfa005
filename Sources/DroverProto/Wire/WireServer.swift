import GRPCCore
import Glibc
public import Logging
public import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import SwiftASN1
import X509

/// The front door of the scheduler and of each worker: one listening socket for both of its
/// protocols. A connection that opens with ``WireFrame/preface`` is a wire stream
/// (``WireConnection``, or ``BulkConnection`` on a worker); anything else (HTTP/2's preface, a
/// TLS ClientHello) is joined byte for byte to the process's gRPC server on a private Unix
/// socket, so gRPC clients in any language, `drover status` and the TLS checks there work as
/// before.
///
/// Every wait has a deadline: a connection that has not said what it is within
/// ``negotiationTimeout`` is closed.
public final class WireServer: Sendable {
    /// How long a new connection may take to send its first bytes (and, for a wire stream, to
    /// finish the TLS handshake and its first frame).
    public static let negotiationTimeout = TimeAmount.seconds(10)

    private let listener: any Channel
    /// The listener on ``unixSocketPath``, when there is one.
    private let unixListener: (any Channel)?
    /// The Unix socket this server also listens on (removed on ``close()``).
    public let unixSocketPath: String?
    private let connections: AsyncStream<WireConnection>
    private let accepted: AsyncStream<WireConnection>.Continuation
    private let bulkConnections: AsyncStream<BulkConnection>
    private let bulkAccepted: AsyncStream<BulkConnection>.Continuation

    /// The bound address.
    public var localAddress: NIOCore.SocketAddress? { listener.localAddress }

    /// The bound port.
    public var localPort: Int? { listener.localAddress?.port }

    /// Where to listen: an address, or a socket already listening (systemd socket activation).
    public enum Listening: Sendable {
        case address(host: String, port: Int)
        case socket(CInt)
    }

    /// Binds the front door.
    ///
    /// - Parameters:
    ///   - listening: Where to listen.
    ///   - grpcSocketPath: The Unix socket of the scheduler's gRPC server, for every connection
    ///     that is not a wire stream.
    ///   - security: TLS settings: with certificates, wire streams are mutual TLS.
    ///   - maxMessageBytes: The largest message a wire stream accepts.
    ///   - kinds: The stream kinds served here (the scheduler: `worker` and `client`; a worker:
    ///     `bulk`); a connection asking for another kind is closed.
    ///   - connectionLoop: The event loop every accepted connection lives on (the scheduler's own,
    ///     where its state is handled), or nil to spread them over the process's loops.
    ///   - unixSocket: A Unix-domain socket to listen on as well, for the processes of this host
    ///     (`unix:PATH` addresses): the same streams, without TCP. A stale socket file there (no
    ///     one listening) is replaced; one in use is not.
    /// - Throws: ``SecurityError`` when another process listens on `unixSocket`; NIO's errors
    ///   when a socket cannot be bound.
    public init(
        listening: Listening, grpcSocketPath: String, security: Security, maxMessageBytes: Int,
        kinds: Set<WireStreamKind> = [.worker, .client], connectionLoop: (any EventLoop)? = nil,
        unixSocket: String? = nil, logger: Logger
    ) async throws {
        let tls = try security.tlsFiles.map { try WireTLS.serverContext($0) }
        let (connections, accepted) = AsyncStream<WireConnection>.makeStream()
        self.connections = connections
        self.accepted = accepted
        let (bulkConnections, bulkAccepted) = AsyncStream<BulkConnection>.makeStream()
        self.bulkConnections = bulkConnections
        self.bulkAccepted = bulkAccepted
        let acceptors = WireSniffer.Acceptors(kinds: kinds, framed: accepted, bulk: bulkAccepted)
        let children: any EventLoopGroup = connectionLoop ?? MultiThreadedEventLoopGroup.singleton
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton, childGroup: children)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sniffer = WireSniffer(
                        grpcSocketPath: grpcSocketPath, tls: tls, maxMessageBytes: maxMessageBytes,
                        accepted: acceptors, logger: logger)
                    try channel.pipeline.syncOperations.addHandler(sniffer)
                }
            }
        if let unixSocket, PrivateDirectory.isListening(unixSocket) {
            throw SecurityError("Another process listens on the Unix socket \(unixSocket).")
        }
        switch listening {
        case .address(let host, let port):
            listener = try await bootstrap.bind(host: host, port: port).get()
        case .socket(let descriptor):
            listener = try await bootstrap.withBoundSocket(descriptor).get()
        }
        if let unixSocket {
            do {
                unixListener = try await bootstrap.bind(
                    unixDomainSocketPath: unixSocket, cleanupExistingSocketFile: true
                )
                .get()
            } catch {
                try? await listener.close()
                throw error
            }
        } else {
            unixListener = nil
        }
        unixSocketPath = unixSocket
    }

    /// The wire streams, as they arrive; ends when the server closes.
    public var streams: AsyncStream<WireConnection> { connections }

    /// The bulk streams (only with `bulk` among the server's kinds), as they arrive; ends when
    /// the server closes.
    public var bulkStreams: AsyncStream<BulkConnection> { bulkConnections }

    /// Stops listening (open connections carry on until their handlers end them).
    public func close() async {
        if let unixListener, let unixSocketPath {
            // Removed while still bound, so that the path never names another process's socket.
            unlink(unixSocketPath)
            try? await unixListener.close()
        }
        try? await listener.close()
        accepted.finish()
        bulkAccepted.finish()
    }
}

/// A wire stream accepted by ``WireServer``: its kind, who is calling, and its frames.
public struct WireConnection: Sendable {
    public var kind: WireStreamKind
    /// The peer's address, for logs.
    public var remotePeer: String
    let channel: NIOAsyncChannel<WireFrame, WireFrame>
    let maxMessageBytes: Int

}

/// With TLS, decides whether the peer's certificate may open the stream the moment the handshake
/// completes, before any frame is read: a refused peer gets a `permissionDenied` status frame and
/// the connection closes, so that it cannot make the scheduler decode (or buffer up to
/// `--max-message-bytes` of) a single frame. The decision uses the same ``AccessPolicy`` row as
/// the gRPC role interceptor. An allowed peer's bytes pass on untouched and the gate leaves.
final class WireRoleGate: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let kind: WireStreamKind
    private let logger: Logger
    /// Bytes decrypted before the decision (the handshake's last record and the first
    /// application data may arrive in one read), and whether the peer was refused.
    private var held: [ByteBuffer] = []
    private var isRefused = false

    init(kind: WireStreamKind, logger: Logger) {
        self.kind = kind
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !isRefused else { return }
        held.append(unwrapInboundIn(data))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard case TLSUserEvent.handshakeCompleted = event else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        context.fireUserInboundEventTriggered(event)
        let (roles, subject) = Self.peer(of: context.pipeline.syncOperations)
        let remote = context.remoteAddress.map { "\($0)" } ?? "?"
        if let reason = AccessPolicy.refusal(
            of: kind.method, roles: roles, subject: subject, peer: remote, logger: logger)
        {
            isRefused = true
            held = []
            var refusal = context.channel.allocator.buffer(capacity: reason.utf8.count + 16)
            WireFrameEncoder.write(.status(RPCError(code: .permissionDenied, message: reason)), to: &refusal)
            context.writeAndFlush(wrapOutboundOut(refusal)).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
            return
        }
        for bytes in held { context.fireChannelRead(wrapInboundOut(bytes)) }
        held = []
        context.pipeline.syncOperations.removeHandler(self, promise: nil)
    }

    /// The roles and subject of the peer's verified certificate.
    private static func peer(of pipeline: ChannelPipeline.SynchronousOperations) -> (Set<Role>, String) {
        guard let der = try? pipeline.nioSSL_peerCertificate()?.toDERBytes(),
            let certificate = try? Certificate(derEncoded: der)
        else { return ([], "no certificate") }
        return (Role.roles(in: certificate), "\(certificate.subject)")
    }
}

/// The first bytes of a connection decide what it is.
final class WireSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Where accepted streams go, by kind.
    struct Acceptors {
        var kinds: Set<WireStreamKind>
        var framed: AsyncStream<WireConnection>.Continuation
        var bulk: AsyncStream<BulkConnection>.Continuation
    }

    private let grpcSocketPath: String
    private let tls: NIOSSLContext?
    private let maxMessageBytes: Int
    private let accepted: Acceptors
    private let logger: Logger
    private var buffered: ByteBuffer?
    private var decided = false
    private var deadline: Scheduled<Void>?

    init(
        grpcSocketPath: String, tls: NIOSSLContext?, maxMessageBytes: Int, accepted: Acceptors, logger: Logger
    ) {
        self.grpcSocketPath = grpcSocketPath
        self.tls = tls
        self.maxMessageBytes = maxMessageBytes
        self.accepted = accepted
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: WireServer.negotiationTimeout) {
            channel.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        guard !decided else {
            // Arrived while the gRPC server was being dialled: kept for it.
            buffered?.writeBuffer(&bytes)
            return
        }
        if buffered == nil {
            buffered = bytes
        } else {
            buffered!.writeBuffer(&bytes)
        }
        let seen = buffered!.readableBytesView
        let preface = WireFrame.preface
        let compared = min(seen.count, preface.count)
        if !seen.prefix(compared).elementsEqual(preface.prefix(compared)) {
            splice(context: context)
        } else if seen.count > preface.count {
            acceptWire(context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        context.fireChannelInactive()
    }

    /// Not a wire stream: join it to the gRPC server, first bytes included.
    private func splice(context: ChannelHandlerContext) {
        decided = true
        let channel = context.channel
        context.channel.setOption(.autoRead, value: false).whenComplete { _ in }
        let path = grpcSocketPath
        let logger = logger
        ClientBootstrap(group: context.eventLoop)
            .connect(unixDomainSocketPath: path)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let grpc):
                    let (front, back) = GlueHandler.pair()
                    do {
                        try grpc.pipeline.syncOperations.addHandler(back)
                        try channel.pipeline.syncOperations.addHandler(front, position: .after(self))
                    } catch {
                        grpc.close(promise: nil)
                        channel.close(promise: nil)
                        return
                    }
                    if let bytes = self.buffered, bytes.readableBytes > 0 {
                        grpc.writeAndFlush(bytes, promise: nil)
                    }
                    self.buffered = nil
                    channel.pipeline.syncOperations.removeHandler(self, promise: nil)
                    channel.setOption(.autoRead, value: true).whenComplete { _ in }
                    logger.trace("joined a connection to the gRPC server", metadata: ["socket.path": "\(path)"])
                    grpc.closeFuture.whenComplete { _ in
                        logger.trace("the gRPC server closed a joined connection")
                        channel.close(promise: nil)
                    }
                case .failure(let error):
                    logger.error(
                        "could not reach the scheduler's gRPC server",
                        metadata: ["socket.path": "\(path)", "error": "\(error)"])
                    channel.close(promise: nil)
                }
            }
    }

    /// A wire stream: say whether TLS follows, set up the framing, hand the connection over.
    private func acceptWire(context: ChannelHandlerContext) {
        decided = true
        var bytes = buffered!
        buffered = nil
        bytes.moveReaderIndex(forwardBy: WireFrame.preface.count)
        let kindByte = bytes.readInteger(as: UInt8.self)!
        guard let kind = WireStreamKind(rawValue: kindByte), accepted.kinds.contains(kind) else {
            logger.warning(
                "refused a wire connection",
                metadata: [
                    "peer": "\(context.remoteAddress.map { "\($0)" } ?? "?")",
                    "reason": "stream kind \(kindByte) is not served here",
                ])
            context.close(promise: nil)
            return
        }
        let channel = context.channel
        var answer = channel.allocator.buffer(capacity: 1)
        answer.writeInteger(UInt8(ascii: tls == nil ? "P" : "T"))
        context.writeAndFlush(wrapOutboundOut(answer), promise: nil)
        if kind == .bulk {
            acceptBulk(context: context, after: bytes)
            return
        }
        do {
            let operations = channel.pipeline.syncOperations
            var handlers: [any ChannelHandler] = []
            if let tls {
                handlers.append(NIOSSLServerHandler(context: tls))
                handlers.append(WireRoleGate(kind: kind, logger: logger))
            }
            handlers += [
                ByteToMessageHandler(WireFrameDecoder(maxFrameBytes: maxMessageBytes + 1)),
                MessageToByteHandler(WireFrameEncoder()),
            ]
            try operations.addHandlers(handlers, position: .after(self))
            let wrapped = try NIOAsyncChannel<WireFrame, WireFrame>(wrappingChannelSynchronously: channel)
            // Bytes after the preface (a ClientHello, or frames) go to the handlers just added.
            if bytes.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(bytes)) }
            operations.removeHandler(self, promise: nil)
            accepted.framed.yield(
                WireConnection(
                    kind: kind, remotePeer: channel.remoteAddress.map { "\($0)" } ?? "?", channel: wrapped,
                    maxMessageBytes: maxMessageBytes))
        } catch {
            logger.error("could not set up a wire connection", metadata: ["error": "\(error)"])
            context.close(promise: nil)
        }
    }

    /// A bulk stream: frames in (the request), raw bytes out, with write and read deadlines.
    private func acceptBulk(context: ChannelHandlerContext, after bytes: ByteBuffer) {
        let channel = context.channel
        do {
            let operations = channel.pipeline.syncOperations
            var handlers: [any ChannelHandler] = []
            if let tls {
                handlers.append(NIOSSLServerHandler(context: tls))
                handlers.append(WireRoleGate(kind: .bulk, logger: logger))
            }
            handlers += [
                IdleStateHandler(writeTimeout: BulkStream.idleTimeout),
                BulkDeadline(peer: "the bulk stream's reader"),
                ByteToMessageHandler(WireFrameDecoder(maxFrameBytes: maxMessageBytes + 1)),
            ]
            try operations.addHandlers(handlers, position: .after(self))
            // Room for the next slice while the previous one drains, so the socket never waits
            // for the copy into it.
            try channel.syncOptions?.setOption(
                .writeBufferWaterMark,
                value: .init(low: BulkStream.sliceBytes, high: 2 * BulkStream.sliceBytes + 1))
            let wrapped = try NIOAsyncChannel<WireFrame, IOData>(wrappingChannelSynchronously: channel)
            if bytes.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(bytes)) }
            operations.removeHandler(self, promise: nil)
            accepted.bulk.yield(
                BulkConnection(
                    remotePeer: channel.remoteAddress.map { "\($0)" } ?? "?", channel: wrapped, sendsFiles: tls == nil))
        } catch {
            logger.error("could not set up a bulk connection", metadata: ["error": "\(error)"])
            context.close(promise: nil)
        }
    }
}
