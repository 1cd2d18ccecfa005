public import DroverCore
import GRPCCore
public import NIOCore
import NIOPosix
import SwiftProtobuf

/// The asker's side of a worker's bulk stream (see ``BulkStream``).
public enum BulkClient {
    /// What a bulk fetch read.
    public struct Fetched: Sendable {
        /// The values, each in one buffer of its own.
        public var values: [TaskKey: Payload]
        /// Keys the worker said it does not hold, with its reason.
        public var missing: [TaskKey: String]
    }

    /// Reads `keys` from the worker at `endpoint` over its bulk stream.
    ///
    /// - Parameters:
    ///   - expectedBytes: The sizes `GetData` announced, checked against the stream's headers.
    ///   - maxValueBytes: The largest value accepted; a bigger announcement fails the fetch before
    ///     any allocation.
    ///   - idleTimeout: How long the worker may send nothing before the fetch gives up.
    /// - Throws: `RPCError`: `unavailable` (cannot connect, TLS disagreement, a truncated
    ///   stream), `deadlineExceeded` (the worker was silent for ``BulkStream/idleTimeout``),
    ///   `resourceExhausted` (a value over `maxValueBytes`), `dataLoss` (a malformed stream), or
    ///   the worker's own status (`permissionDenied` for a certificate without the role).
    public static func fetch(
        _ keys: [TaskKey], from endpoint: HostAndPort, security: Security, expectedBytes: [TaskKey: Int64] = [:],
        maxValueBytes: Int64 = BulkStream.defaultMaxValueBytes, idleTimeout: TimeAmount = BulkStream.idleTimeout
    ) async throws -> Fetched {
        let tls = try security.tlsFiles.map { try WireTLS.clientContext($0) }
        let peer = "\(endpoint)"
        let (channel, outcome) = try await WireClient.connect(
            .bulk, to: endpoint, tls: tls, peerName: "worker", receiveBufferBytes: BulkStream.receiveBufferBytes
        ) { channel in
            let promise = channel.eventLoop.makePromise(of: BulkReceiver.Outcome.self)
            // Plaintext: the receiver reads values' bytes from the socket itself, and NIO's reads
            // (headers, and what of a value comes with one) need be no larger than a header.
            let descriptor = tls == nil ? SocketDescriptor.find(for: channel) : nil
            if descriptor != nil {
                try channel.syncOptions?.setOption(
                    .recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: BulkStream.headerReadBytes))
            }
            try channel.pipeline.syncOperations.addHandlers([
                IdleStateHandler(readTimeout: idleTimeout),
                MessageToByteHandler(WireFrameEncoder()),
                BulkReceiver(
                    keys: keys, expectedBytes: expectedBytes, maxValueBytes: maxValueBytes, peer: peer,
                    idleTimeout: idleTimeout, descriptor: descriptor, promise: promise),
            ])
            return (channel, promise.futureResult)
        }
        let request = Drover_V1_GetDataRequest.with { $0.keys = keys.map(\.rawValue) }
        return try await withTaskCancellationHandler {
            defer { channel.close(promise: nil) }
            // A failed write has a cause the receiver reports better (a refusal, a TLS alert).
            try? await channel.writeAndFlush(try WireWriter<Drover_V1_GetDataRequest>.frame(request))
            let read = try await outcome.get()
            return Fetched(values: read.values, missing: read.missing)
        } onCancel: {
            channel.close(promise: nil)
        }
    }
}
