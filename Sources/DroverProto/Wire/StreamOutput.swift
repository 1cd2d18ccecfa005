public import DroverCore
public import GRPCCore
public import NIOCore
public import SwiftProtobuf

/// Where a stream's outgoing batches go: over gRPC, a writer task reading the queue; over the
/// wire, the connection's event loop, which drains the queue and writes each batch itself
/// (``BatchingQueue/drain(scheduling:write:)``), one thread hand-off fewer per message.
public struct StreamOutput<Message: SwiftProtobuf.Message>: Sendable {
    private enum Way: Sendable {
        case writer(RPCWriter<Message>)
        case channel(any Channel)
    }

    private let way: Way

    /// Batches written by the calling task, through `writer` (a gRPC stream).
    public init(_ writer: RPCWriter<Message>) {
        way = .writer(writer)
    }

    /// Batches written by `channel`'s event loop, as wire frames (the channel's pipeline encodes
    /// ``WireFrame``s).
    init(channel: any Channel) {
        way = .channel(channel)
    }

    /// Sends each batch `outbox` receives as the messages `messages` makes of it, until the queue
    /// is finished (or the calling task is cancelled); returns once the last batch is written.
    ///
    /// - Throws: A gRPC writer's error. Over the wire, a write that fails closes the connection,
    ///   which the stream's reader reports.
    public func forward<Element: Sendable>(
        _ outbox: BatchingQueue<Element>, as messages: @escaping @Sendable ([Element]) -> [Message]
    ) async throws {
        switch way {
        case .writer(let writer):
            for await batch in outbox {
                HopTrace.mark("writer.woke")
                for message in messages(batch) { try await writer.write(message) }
            }
        case .channel(let channel):
            let eventLoop = channel.eventLoop
            await outbox.drain(scheduling: { eventLoop.execute($0) }) { batch in
                HopTrace.mark("loop.drain")
                do {
                    for message in messages(batch) {
                        channel.write(try WireWriter<Message>.frame(message), promise: nil)
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
