public import DroverCore
import Foundation
import GRPCCore
public import Logging
import NIOCore
import SwiftProtobuf

/// A bulk stream accepted by a worker's ``WireServer`` (see ``BulkStream``).
public struct BulkConnection: Sendable {
    /// The peer's address, for logs.
    public var remotePeer: String
    let channel: NIOAsyncChannel<WireFrame, ByteBuffer>

    /// Serves the stream: reads the request (the peer's role is checked at the TLS handshake, by
    /// ``WireRoleGate``), and sends each
    /// value `lookup` finds, its header and then its bytes; a key it does not find is answered as
    /// missing. Returns when the stream ends, however it ends: a peer that sends garbage, stops
    /// reading or goes away costs this worker one connection, nothing more.
    ///
    /// - Parameter lookup: The value held under a key, or nil.
    public func serve(logger: Logger, lookup: @escaping @Sendable (TaskKey) async -> Payload?) async {
        let nioChannel = channel.channel
        // The TLS handshake and the request have a deadline: closing ends the reads.
        let deadline = nioChannel.eventLoop.scheduleTask(in: WireServer.negotiationTimeout) {
            nioChannel.close(promise: nil)
        }
        defer { deadline.cancel() }
        // A cancelled handler (the worker stopping) closes the connection, which ends its writes.
        await withTaskCancellationHandler {
            do {
                try await channel.executeThenClose { inbound, outbound in
                    var frames = inbound.makeAsyncIterator()
                    guard let first = try await frames.next() else { return }
                    deadline.cancel()
                    guard let keys = try await admit(first, outbound: outbound, logger: logger) else { return }
                    var bytes = 0
                    for key in keys {
                        let payload = await lookup(key)
                        try await outbound.write(BulkStream.header(for: key, payload: payload))
                        if let payload { try await send(payload.data, to: outbound) }
                        bytes += payload?.data.count ?? 0
                    }
                    try await outbound.write(BulkStream.frame(WireFrame(kind: .end, body: ByteBuffer())))
                    // A write returns once queued, and closing drops what is still queued: the asker
                    // closes once it has read the end frame, so wait for that (or the deadline).
                    while try await frames.next() != nil {}
                    logger.debug(
                        "served a bulk stream",
                        metadata: ["peer.address": "\(remotePeer)", "values": "\(keys.count)", "bytes": "\(bytes)"])
                }
            } catch {
                logger.debug("bulk stream ended", metadata: ["peer": "\(remotePeer)", "error": "\(error)"])
            }
        } onCancel: {
            nioChannel.close(promise: nil)
        }
    }

    /// The keys asked for, or nil when the request is refused (its status frame sent).
    private func admit(
        _ first: WireFrame, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, logger: Logger
    ) async throws -> [TaskKey]? {
        // With TLS, WireRoleGate has let only a peer whose certificate may call GetData this far.
        guard first.kind == .message,
            let request = try? Drover_V1_GetDataRequest(serializedBytes: FrameBytes(first.body))
        else {
            logger.warning("refused a malformed bulk request", metadata: ["peer": "\(remotePeer)"])
            let refusal = RPCError(
                code: .invalidArgument, message: "A bulk stream must open with a GetDataRequest message frame.")
            try await outbound.write(BulkStream.frame(.status(refusal)))
            return nil
        }
        return request.keys.map { TaskKey($0) }
    }

    /// Writes `data` in slices of ``BulkStream/sliceBytes``, each waiting for room in the
    /// connection's buffer (a reader that stops reading stops the writes, and its deadline then
    /// closes the connection).
    private func send(_ data: Data, to outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws {
        let allocator = channel.channel.allocator
        var offset = 0
        while offset < data.count {
            let end = min(offset + BulkStream.sliceBytes, data.count)
            let slice = data.withUnsafeBytes { raw in
                var buffer = allocator.buffer(capacity: end - offset)
                buffer.writeBytes(UnsafeRawBufferPointer(rebasing: raw[offset..<end]))
                return buffer
            }
            try await outbound.write(slice)
            offset = end
        }
    }
}

extension BulkStream {
    /// A frame, length prefix included.
    static func frame(_ frame: WireFrame) -> ByteBuffer {
        var out = ByteBuffer()
        WireFrameEncoder.write(frame, to: &out)
        return out
    }
}
