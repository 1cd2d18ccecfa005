public import DroverCore
import Foundation
import GRPCCore
import Glibc
public import Logging
import NIOCore
import SwiftProtobuf

/// A bulk stream accepted by a worker's ``WireServer`` (see ``BulkStream``).
public struct BulkConnection: Sendable {
    /// The peer's address, for logs.
    public var remotePeer: String
    let channel: NIOAsyncChannel<WireFrame, IOData>
    /// Whether values may be sent from their files with `sendfile` (plaintext: with TLS every
    /// byte must pass through NIOSSL).
    let sendsFiles: Bool

    /// A value to send: its payload and, when it lives in a file of exactly its bytes (a memfd
    /// segment), that file, which plaintext streams send with `sendfile` (no copy in this process).
    public struct Source: Sendable {
        public var payload: Payload
        public var file: File?

        public init(payload: Payload, file: File? = nil) {
            self.payload = payload
            self.file = file
        }
    }

    /// A descriptor of a file holding a value's bytes, duplicated from its owner's (so the value
    /// can be dropped from the store while it is being sent) and closed when this goes.
    public final class File: Sendable {
        let handle: NIOFileHandle
        let length: Int

        /// - Parameter length: The file's size, which must be the value's (a sealed memfd's is).
        /// - Throws: `POSIXError` when the descriptor cannot be duplicated.
        public init(duplicating descriptor: CInt, length: Int) throws {
            let copy = dup(descriptor)
            guard copy >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EMFILE) }
            handle = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: copy)
            self.length = length
        }

        deinit { try? handle.close() }
    }

    /// Serves the stream: reads a request (the peer's role is checked at the TLS handshake, by
    /// ``WireRoleGate``), and sends each value `lookup` finds, its header and then its bytes; a
    /// key it does not find is answered as missing; then the next request on the same connection
    /// (an asker keeps it for its next fetch), until the asker closes it or sends nothing for
    /// ``BulkStream/idleTimeout``. Returns when the stream ends, however it ends: a peer that sends garbage, stops
    /// reading or goes away costs this worker one connection, nothing more.
    ///
    /// - Parameter lookup: The value held under a key, or nil.
    public func serve(logger: Logger, lookup: @escaping @Sendable (TaskKey) async -> Source?) async {
        let nioChannel = channel.channel
        // The TLS handshake and the request have a deadline: closing ends the reads.
        let deadline = nioChannel.eventLoop.scheduleTask(in: WireServer.negotiationTimeout) {
            nioChannel.close(promise: nil)
        }
        defer { deadline.cancel() }
        // Files being sent stay open until the connection is closed (its pending writes dropped).
        var files: [File] = []
        defer { files.removeAll() }
        // A cancelled handler (the worker stopping) closes the connection, which ends its writes.
        await withTaskCancellationHandler {
            do {
                try await channel.executeThenClose { inbound, outbound in
                    var frames = inbound.makeAsyncIterator()
                    guard var request = try await frames.next() else { return }
                    deadline.cancel()
                    // One request after another, until the asker closes the connection (or keeps it
                    // unused for longer than the write deadline, which then closes it).
                    while true {
                        guard let keys = try await admit(request, outbound: outbound, logger: logger) else { return }
                        var bytes = 0
                        for key in keys {
                            let source = await lookup(key)
                            try await outbound.write(
                                .byteBuffer(BulkStream.header(for: key, payload: source?.payload)))
                            if let source {
                                if sendsFiles, let file = source.file {
                                    files.append(file)
                                    try await send(file, to: outbound)
                                } else {
                                    try await send(source.payload.data, to: outbound)
                                }
                            }
                            bytes += source?.payload.data.count ?? 0
                        }
                        try await outbound.write(
                            .byteBuffer(BulkStream.frame(WireFrame(kind: .end, body: ByteBuffer()))))
                        logger.debug(
                            "served a bulk stream",
                            metadata: [
                                "peer.address": "\(remotePeer)", "values": "\(keys.count)", "bytes": "\(bytes)",
                                "sendfile": "\(files.count)",
                            ])
                        // A write returns once queued, and closing drops what is still queued: the
                        // asker closes (or asks again) once it has read the end frame, so wait for
                        // that, or the deadline.
                        guard let next = try await frames.next() else { return }
                        // The asker read the end frame: everything before it has been sent.
                        files.removeAll()
                        request = next
                    }
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
        _ first: WireFrame, outbound: NIOAsyncChannelOutboundWriter<IOData>, logger: Logger
    ) async throws -> [TaskKey]? {
        // With TLS, WireRoleGate has let only a peer whose certificate may call GetData this far.
        guard first.kind == .message,
            let request = try? Drover_V1_GetDataRequest(serializedBytes: FrameBytes(first.body))
        else {
            logger.warning("refused a malformed bulk request", metadata: ["peer": "\(remotePeer)"])
            let refusal = RPCError(
                code: .invalidArgument, message: "A bulk stream must open with a GetDataRequest message frame.")
            try await outbound.write(.byteBuffer(BulkStream.frame(.status(refusal))))
            return nil
        }
        return request.keys.map { TaskKey($0) }
    }

    /// Writes `data` in slices of ``BulkStream/sliceBytes``, each waiting for room in the
    /// connection's buffer (a reader that stops reading stops the writes, and its deadline then
    /// closes the connection).
    private func send(_ data: Data, to outbound: NIOAsyncChannelOutboundWriter<IOData>) async throws {
        let allocator = channel.channel.allocator
        var offset = 0
        while offset < data.count {
            let end = min(offset + BulkStream.sliceBytes, data.count)
            let slice = data.withUnsafeBytes { raw in
                var buffer = allocator.buffer(capacity: end - offset)
                buffer.writeBytes(UnsafeRawBufferPointer(rebasing: raw[offset..<end]))
                return buffer
            }
            try await outbound.write(.byteBuffer(slice))
            offset = end
        }
    }

    /// Writes `file`'s bytes as regions of ``BulkStream/sliceBytes`` (NIO sends each with
    /// `sendfile`, from the page cache to the socket): slices, as ``send(_:to:)``'s, so that the
    /// write deadline measures progress, not the whole value.
    private func send(_ file: File, to outbound: NIOAsyncChannelOutboundWriter<IOData>) async throws {
        var offset = 0
        while offset < file.length {
            let end = min(offset + BulkStream.sliceBytes, file.length)
            try await outbound.write(
                .fileRegion(FileRegion(fileHandle: file.handle, readerIndex: offset, endIndex: end)))
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
