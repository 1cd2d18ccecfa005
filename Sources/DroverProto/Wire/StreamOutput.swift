public import DroverCore
public import GRPCCore
public import Logging
public import NIOCore
public import SwiftProtobuf

/// A server's bound on what a stream's peer may leave unread: once more than `limit` bytes
/// wait for it (over the wire: in the connection's buffer, message by message; over gRPC: in
/// the stream's queue while a write waits for the peer's flow-control window, by
/// ``StreamOutput/forward(_:as:weight:)``'s estimate), the peer is taken to have stopped reading (hung,
/// stopped, or asking for more than it takes). Over the wire the connection is closed and its
/// reader ends with an `unavailable` error that says so; over gRPC the stream ends with that
/// error. Without it a peer that stops reading makes the server keep every update for it.
public struct UnsentGuard: Sendable {
    /// The most bytes left unsent.
    public var limit: Int
    /// What the peer is, for the error ("client", "worker").
    public var peer: String
    public var logger: Logger

    public init(limit: Int, peer: String, logger: Logger) {
        self.limit = limit
        self.peer = peer
        self.logger = logger
    }

    /// The limit for a server whose messages may be `maxMessageBytes` long: room for one
    /// such message and 64 MiB more (at least 128 MiB).
    public static func limit(maxMessageBytes: Int) -> Int {
        max(maxMessageBytes, 64 << 20) + (64 << 20)
    }
}

/// Where a stream's outgoing batches go: over gRPC, a writer task reading the queue; over the
/// wire, the connection's event loop, which drains the queue and writes each batch itself
/// (``BatchingQueue/drain(scheduling:write:)``), one thread hand-off fewer per message.
public struct StreamOutput<Message: SwiftProtobuf.Message>: Sendable {
    private enum Way: Sendable {
        case writer(RPCWriter<Message>, guarded: UnsentGuard?)
        case channel(any Channel, guarded: UnsentGuard?)
    }

    private let way: Way

    /// Batches written by the calling task, through `writer` (a gRPC stream).
    public init(_ writer: RPCWriter<Message>, guarded: UnsentGuard? = nil) {
        way = .writer(writer, guarded: guarded)
    }

    /// Batches written by `channel`'s event loop, as wire frames (the channel's pipeline encodes
    /// ``WireFrame``s); with `guarded`, a peer that stops reading is cut off (``UnsentGuard``).
    init(channel: any Channel, guarded: UnsentGuard? = nil) {
        way = .channel(channel, guarded: guarded)
    }

    /// Sends each batch `outbox` receives as the messages `messages` makes of it, until the queue
    /// is finished (or the calling task is cancelled); returns once the last batch is written.
    ///
    /// - Throws: A gRPC writer's error. Over the wire, a write that fails closes the connection,
    ///   which the stream's reader reports.
    ///
    /// - Parameter weight: An item's size in bytes, about, for a gRPC stream's ``UnsentGuard``.
    public func forward<Element: Sendable>(
        _ outbox: BatchingQueue<Element>, as messages: @escaping @Sendable ([Element]) -> [Message],
        weight: (@Sendable (Element) -> Int)? = nil
    ) async throws {
        switch way {
        case .writer(let writer, let guarded):
            let write: @Sendable () async throws -> Void = {
                for await batch in outbox {
                    HopTrace.mark("writer.woke")
                    for message in messages(batch) { try await writer.write(message) }
                }
            }
            guard let guarded, let weight else { return try await write() }
            // The queue finishes itself when it overflows (``BatchingQueue/overflow`` says by how
            // much); the write waiting for the peer is then cancelled. `ended` wakes the watcher
            // when either the overflow or the writer comes first.
            let (ended, end) = AsyncStream<Never>.makeStream()
            outbox.bound(limit: guarded.limit, weight: weight) { end.finish() }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    defer { end.finish() }
                    try await write()
                }
                group.addTask {
                    for await _ in ended {}
                    if let unsent = outbox.overflow { throw Self.cutOff(guarded, unsent: unsent, remote: nil) }
                }
                try await group.waitForAll()
            }
        case .channel(let channel, let guarded):
            let eventLoop = channel.eventLoop
            await outbox.drain(scheduling: { eventLoop.execute($0) }) { batch in
                HopTrace.mark("loop.drain")
                // Closed (by the peer, or cut off below): the writes would fail.
                guard channel.isActive else { return }
                do {
                    // Checked message by message (one batch may hold far more than the limit),
                    // counting this batch's frames until the flush: a TLS handler holds them until then.
                    let unsent = guarded == nil ? 0 : Self.unsent(in: channel)
                    var written = 0
                    for message in messages(batch) {
                        let frame = try WireWriter<Message>.frame(message)
                        written += frame.body.readableBytes + WireFrame.lengthBytes + 1
                        channel.write(frame, promise: nil)
                        if let guarded, unsent + written > guarded.limit {
                            Self.cutOff(channel, guarded, unsent: unsent + written)
                            return
                        }
                    }
                    channel.flush()
                } catch {
                    // A message that does not serialize is a programmer's error; the peer sees the
                    // connection close.
                    channel.close(promise: nil)
                }
            }
        }
    }

    /// The bytes written to `channel` and not yet sent.
    private static func unsent(in channel: any Channel) -> Int {
        (try? channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
    }

    /// Closes `channel`, whose peer left `unsent` bytes unread, over the guard's limit.
    private static func cutOff(_ channel: any Channel, _ guarded: UnsentGuard, unsent: Int) {
        let error = cutOff(guarded, unsent: unsent, remote: channel.remoteAddress.map { "\($0)" })
        channel.pipeline.fireErrorCaught(error)
        channel.close(promise: nil)
    }

    /// Logs that the peer left `unsent` bytes unread, over the guard's limit; the error that ends
    /// its stream.
    private static func cutOff(_ guarded: UnsentGuard, unsent: Int, remote: String?) -> RPCError {
        guarded.logger.warning(
            "closed the connection of a peer that stopped reading",
            metadata: [
                "stream": "\(guarded.peer)", "peer": "\(remote ?? "?")", "unsent.bytes": "\(unsent)",
                "limit.bytes": "\(guarded.limit)",
            ])
        return RPCError(
            code: .unavailable,
            message: "The \(guarded.peer) stopped reading: \(unsent) bytes waited to be sent to it, over the limit "
                + "of \(guarded.limit); its connection was closed.")
    }
}

/// Hands each `message` frame to a closure on the event loop that read it, decoded there: no
/// task to wake per message. Frames of other kinds (`end`, `status`), and a frame that does not
/// decode, pass on to the stream's reader, which ends the stream with them (and from then on
/// every frame passes on, so that nothing is handled after the stream's end).
final class WireInbox<Message: SwiftProtobuf.Message>: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WireFrame
    typealias InboundOut = WireFrame

    private let handle: @Sendable (Message) -> Void
    private var isPassing = false

    init(handle: @escaping @Sendable (Message) -> Void) {
        self.handle = handle
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if !isPassing, frame.kind == .message, let message = try? Message(serializedBytes: FrameBytes(frame.body)) {
            HopTrace.mark("loop.handled")
            handle(message)
            return
        }
        isPassing = true
        context.fireChannelRead(data)
    }
}

@available(*, unavailable)
extension WireInbox: Sendable {}
