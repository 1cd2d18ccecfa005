import DroverCore
import Foundation
import GRPCCore
public import NIOCore
import SwiftProtobuf

/// The bulk stream: how a worker's large values travel to a peer or a client on another host (or
/// with sharing off), instead of as 1 MiB `GetData` messages.
///
/// It is a wire stream (``WireStreamKind/bulk``) on the worker's own port, behind the same
/// preface, TLS and roles as every wire stream (the roles of `GetData`). `GetData` still decides
/// what goes where: an asker that sets `accepts_bulk` gets each value of at least
/// ``minValueBytes`` as a chunk marked `bulk` (encoding, type and size, no bytes), and then asks
/// for those keys here:
///
/// 1. The asker sends one `message` frame: a `GetDataRequest` naming the keys.
/// 2. For each key, in order, the worker sends a `message` frame with a `DataChunk` carrying the
///    key, encoding, type name and `total_bytes` (or `missing`), followed by exactly
///    `total_bytes` raw bytes: no framing, written in large slices straight from the stored value.
/// 3. An `end` frame; or a `status` frame (a refused role, a malformed request) instead.
/// 4. The asker may ask again on the same connection (from 1.), or close it.
///
/// The asker checks the announced size against its limit before allocating, then reads the
/// bytes into one buffer of that size (over plaintext straight from the socket); the value's
/// `Data` is that buffer. Over plaintext the worker sends a value that lives in a memfd segment
/// with `sendfile`. Either end that hears nothing for ``idleTimeout`` closes the connection; the
/// asker keeps one connection per worker between fetches, for less than that.
public enum BulkStream {
    /// Values at least this large go over the bulk stream; smaller ones stay in `GetData`.
    public static let minValueBytes = 1 << 20

    /// How much of a value the sender hands the socket at a time.
    static let sliceBytes = 4 << 20

    /// The receive buffer the asker reads into before copying into the value's buffer (TLS).
    static let receiveBufferBytes = 1 << 20

    /// NIO's reads on a plaintext stream, whose values' bytes the asker reads from the socket
    /// itself: a header, and what of a value comes with it.
    static let headerReadBytes = 4 << 10

    /// How long either end waits for the other (a read on the asker's side, a write's completion
    /// on the worker's) before it gives up: as long as `GetData` waits for its next message.
    public static let idleTimeout = TimeAmount.seconds(10)

    /// The largest request or header frame.
    static let maxHeaderBytes = TransportLimits.maxWorkerMessageBytes

    /// The largest value an asker accepts by default: the machine's memory. A peer announcing
    /// more is refused before anything is allocated.
    public static var defaultMaxValueBytes: Int64 {
        Int64(clamping: ProcessInfo.processInfo.physicalMemory)
    }

    /// Whether this process uses the bulk stream, from `DROVER_PROTOCOL` (`grpc` turns it off:
    /// a worker then serves and asks with `GetData` alone, exactly as before).
    public static var isEnabled: Bool { !WireClient.useGRPC }

    /// The header frame before a value's bytes, or saying the worker does not hold `key`.
    static func header(for key: TaskKey, payload: Payload?) throws -> ByteBuffer {
        guard let payload else {
            return try frame(DataChunks.missing(key, reason: "this worker does not hold '\(key)'"))
        }
        // GetData's offer, less the mark that says the bytes come by another way: here they follow.
        var chunk = DataChunks.bulk(payload, key: key)
        chunk.bulk = false
        return try frame(chunk)
    }

    /// A message frame, length prefix included.
    static func frame<Message: SwiftProtobuf.Message>(_ message: Message) throws -> ByteBuffer {
        var out = ByteBuffer()
        WireFrameEncoder.write(try WireWriter<Message>.frame(message), to: &out)
        return out
    }
}

/// Closes a bulk stream when ``IdleStateHandler`` says it has been idle too long: the reads and
/// writes waiting on it then fail.
final class BulkDeadline: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    /// Who has gone quiet, for the log.
    let peer: String

    init(peer: String) {
        self.peer = peer
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
