import DroverCore
public import GRPCCore
public import Logging
import NIOCore
public import SwiftProtobuf

/// An iterator handed from one owner to the next exactly once (an inbound stream allows a single
/// iterator; the first frame is read before the handler gets the rest).
final class IteratorHandOver<Iterator>: @unchecked Sendable {
    // @unchecked: `iterator` is taken once, by whoever makes the sequence's iterator.
    private var iterator: Iterator?

    init(_ iterator: Iterator) {
        self.iterator = iterator
    }

    func take() -> Iterator {
        guard let taken = iterator else { preconditionFailure("a wire stream is iterated once") }
        iterator = nil
        return taken
    }
}

/// The messages of a wire stream, decoded as they are read: ends at the peer's `end` frame,
/// throws its `status` frame as an `RPCError`, and throws when the connection ends without either.
struct WireMessages<Message: SwiftProtobuf.Message>: AsyncSequence, Sendable {
    typealias Element = Message
    let frames: IteratorHandOver<NIOAsyncChannelInboundStream<WireFrame>.AsyncIterator>
    /// A frame already read (the server reads the first before the role check).
    var first: WireFrame?
    /// Who is at the other end, for messages ("scheduler", "client").
    let peer: String
    let maxMessageBytes: Int

    struct AsyncIterator: AsyncIteratorProtocol {
        var frames: NIOAsyncChannelInboundStream<WireFrame>.AsyncIterator
        var pending: WireFrame?
        let peer: String
        let maxMessageBytes: Int
        var finished = false

        mutating func next() async throws -> Message? {
            guard !finished else { return nil }
            do {
                let frame: WireFrame
                if let pending {
                    frame = pending
                    self.pending = nil
                } else {
                    guard let read = try await frames.next() else {
                        throw RPCError(code: .unavailable, message: "The \(peer) closed the connection.")
                    }
                    frame = read
                }
                HopTrace.mark("task.read")
                return try decode(frame)
            } catch let error as WireFrameDecoder.TooLarge {
                finished = true
                throw RPCError(
                    code: .resourceExhausted,
                    message: "A \(Message.protoMessageName) message of \(error.bytes - 1) bytes is over "
                        + "this server's limit of \(maxMessageBytes) bytes; send less per message (split the batch, "
                        + "or put large values on workers with PutData and refer to them by key).")
            } catch let error as WireFrameDecoder.Malformed {
                finished = true
                throw RPCError(code: .invalidArgument, message: "Malformed wire frame: \(error.reason).")
            } catch {
                finished = true
                throw error
            }
        }

        private mutating func decode(_ frame: WireFrame) throws -> Message? {
            switch frame.kind {
            case .message:
                // No size check here: the frame decoder refused any frame over the limit from its length.
                do {
                    return try Message(serializedBytes: FrameBytes(frame.body))
                } catch {
                    throw RPCError(
                        code: .invalidArgument,
                        message: "A \(Message.protoMessageName) message did not decode: \(error).")
                }
            case .end:
                finished = true
                return nil
            case .status:
                throw frame.statusError()
            }
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(frames: frames.take(), pending: first, peer: peer, maxMessageBytes: maxMessageBytes)
    }
}

/// Writes messages as `message` frames.
struct WireWriter<Message: SwiftProtobuf.Message>: RPCWriterProtocol {
    let outbound: NIOAsyncChannelOutboundWriter<WireFrame>

    func write(_ element: Message) async throws {
        try await outbound.write(Self.frame(element))
    }

    func write(contentsOf elements: some Sequence<Message>) async throws {
        try await outbound.write(contentsOf: elements.map(Self.frame))
    }

    static func frame(_ message: Message) throws -> WireFrame {
        // Serialized straight into the frame's buffer (no array in between).
        let bytes: FrameBytes = try message.serializedBytes()
        return WireFrame(kind: .message, body: bytes.buffer)
    }
}

extension WireConnection {
    /// Serves this stream with a gRPC bidirectional handler, as if it had arrived over gRPC: the
    /// handler reads `Request`s and sends `Response`s (``StreamOutput``: written by the
    /// connection's event loop); returning ends the stream with `end`,
    /// throwing an `RPCError` ends it with that status. With TLS, ``WireRoleGate`` has already
    /// refused a peer whose certificate holds no role ``AccessPolicy`` allows for the stream's
    /// method; the first frame must arrive within ``WireServer/negotiationTimeout``. With
    /// `guardingUnsent`, a peer that leaves more than ``UnsentGuard/limit(maxMessageBytes:)``
    /// unread is cut off.
    public func serve<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ request: Request.Type, _ response: Response.Type, guardingUnsent: Bool = false, logger: Logger,
        handler:
            @Sendable (RPCAsyncSequence<Request, any Error>, StreamOutput<Response>, ServerContext) async throws ->
            Void
    ) async {
        let nioChannel = channel.channel
        // The TLS handshake and the first frame have a deadline: closing ends the reads.
        let deadline = nioChannel.eventLoop.scheduleTask(in: WireServer.negotiationTimeout) {
            nioChannel.close(promise: nil)
        }
        defer { deadline.cancel() }
        // A cancelled handler (the scheduler stopping) closes the connection, which ends its reads.
        await withTaskCancellationHandler {
            await serveFrames(
                request, response, guardingUnsent: guardingUnsent, logger: logger, deadline: deadline, handler: handler)
        } onCancel: {
            nioChannel.close(promise: nil)
        }
    }

    private func serveFrames<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ request: Request.Type, _ response: Response.Type, guardingUnsent: Bool, logger: Logger,
        deadline: Scheduled<Void>,
        handler:
            @Sendable (RPCAsyncSequence<Request, any Error>, StreamOutput<Response>, ServerContext) async throws ->
            Void
    ) async {
        let nioChannel = channel.channel
        do {
            try await channel.executeThenClose { inbound, outbound in
                var frames = inbound.makeAsyncIterator()
                // With TLS, WireRoleGate has let only a peer whose certificate may open this stream this far.
                guard let first = try await frames.next() else { return }
                deadline.cancel()
                let method = kind.method
                let requests = WireMessages<Request>(
                    frames: IteratorHandOver(frames), first: first, peer: kind.peerName,
                    maxMessageBytes: maxMessageBytes)
                let names = method.split(separator: "/")
                let context = ServerContext(
                    descriptor: MethodDescriptor(
                        fullyQualifiedService: String(names.first ?? ""), method: String(names.last ?? "")),
                    remotePeer: remotePeer, localPeer: "", cancellation: ServerContext.RPCCancellationHandle())
                do {
                    try await handler(
                        RPCAsyncSequence(wrapping: requests),
                        StreamOutput(
                            channel: nioChannel,
                            guarded: guardingUnsent
                                ? .init(
                                    limit: UnsentGuard.limit(maxMessageBytes: maxMessageBytes), peer: kind.peerName,
                                    logger: logger) : nil),
                        context)
                    try await outbound.write(WireFrame(kind: .end, body: ByteBuffer()))
                } catch let error as RPCError {
                    try await outbound.write(.status(error))
                }
            }
        } catch {
            logger.debug("wire stream ended", metadata: ["peer": "\(remotePeer)", "error": "\(error)"])
        }
    }
}

/// A frame's bytes as protobuf's "bag of bytes", so a message decodes from the receive buffer
/// without a copy.
struct FrameBytes: SwiftProtobufContiguousBytes {
    var buffer: ByteBuffer

    init(_ buffer: ByteBuffer) {
        self.buffer = buffer
    }

    init(repeating: UInt8, count: Int) {
        buffer = ByteBuffer(repeating: repeating, count: count)
    }

    init<S: Sequence>(_ sequence: S) where S.Element == UInt8 {
        buffer = ByteBuffer(bytes: sequence)
    }

    var count: Int { buffer.readableBytes }

    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try buffer.withUnsafeReadableBytes(body)
    }

    mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try buffer.withUnsafeMutableReadableBytes(body)
    }
}
