public import DroverCore
import GRPCCore
public import NIOCore
import NIOPosix
import NIOSSL
import SwiftProtobuf
import Synchronization

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
    /// A connection is kept after a fetch for the next one to the same worker (one per worker,
    /// closed after ``BulkConnections/idleTimeout`` unused): with TLS that saves a handshake per
    /// fetch. A kept connection the worker has closed meanwhile (it restarted) costs nothing but a
    /// new connection: a fetch that gets no answer at all on it is asked again on a new one.
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
        let files = security.tlsFiles
        let identity =
            "\(endpoint) \(idleTimeout.nanoseconds) "
            + (files.map { "\($0.ca) \($0.certificate) \($0.key)" } ?? "plaintext")
        func request(on connection: BulkConnections.Connection) -> BulkReceiver.Request {
            BulkReceiver.Request(
                keys: keys, expectedBytes: expectedBytes, maxValueBytes: maxValueBytes,
                promise: connection.channel.eventLoop.makePromise())
        }
        if let kept = BulkConnections.shared.take(identity) {
            do {
                return try await kept.fetch(request(on: kept))
            } catch is BulkReceiver.Unanswered {
                // The worker closed it meanwhile: ask on a new connection.
            }
        }
        let connection = try await BulkConnections.Connection.open(
            to: endpoint, tls: try files.map { try WireTLS.clientContext($0) }, identity: identity,
            idleTimeout: idleTimeout)
        do {
            return try await connection.fetch(request(on: connection))
        } catch let unanswered as BulkReceiver.Unanswered {
            throw unanswered.error
        }
    }
}

/// The bulk connections this process keeps open between fetches: at most one per worker (and
/// certificate), each closed after ``idleTimeout`` unused, shorter than the worker's own deadline
/// for a silent connection (``BulkStream/idleTimeout``, which then closes it on its side).
final class BulkConnections: Sendable {
    static let shared = BulkConnections()

    /// How long a connection is kept unused.
    static let idleTimeout = TimeAmount.seconds(5)

    /// One connection to a worker, with the handler reading its answers.
    struct Connection: Sendable {
        let channel: any Channel
        let receiver: NIOLoopBound<BulkReceiver>
        /// The worker and the certificate it was opened with.
        let identity: String

        static func open(
            to endpoint: HostAndPort, tls: NIOSSLContext?, identity: String, idleTimeout: TimeAmount
        ) async throws -> Connection {
            let peer = "\(endpoint)"
            return try await WireClient.connect(
                .bulk, to: endpoint, tls: tls, peerName: "worker", receiveBufferBytes: BulkStream.receiveBufferBytes
            ) { channel in
                // Plaintext: the receiver reads values' bytes from the socket itself, and NIO's reads
                // (headers, and what of a value comes with one) need be no larger than a header.
                let descriptor = tls == nil ? SocketDescriptor.find(for: channel) : nil
                if descriptor != nil {
                    try channel.syncOptions?.setOption(
                        .recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: BulkStream.headerReadBytes))
                }
                let receiver = BulkReceiver(peer: peer, idleTimeout: idleTimeout, descriptor: descriptor)
                try channel.pipeline.syncOperations.addHandlers([
                    IdleStateHandler(readTimeout: idleTimeout),
                    MessageToByteHandler(WireFrameEncoder()),
                    receiver,
                ])
                return Connection(
                    channel: channel, receiver: NIOLoopBound(receiver, eventLoop: channel.eventLoop), identity: identity
                )
            }
        }

        /// Asks for `request`'s keys on this connection and reads the answer; keeps the
        /// connection for the next fetch when it ends well (an error has closed it).
        func fetch(_ request: BulkReceiver.Request) async throws -> BulkClient.Fetched {
            let channel = self.channel
            let receiver = self.receiver
            let outcome = request.promise.futureResult
            channel.eventLoop.execute { receiver.value.begin(request) }
            let message = Drover_V1_GetDataRequest.with { $0.keys = request.keys.map(\.rawValue) }
            return try await withTaskCancellationHandler {
                // A failed write has a cause the receiver reports better (a refusal, a TLS alert, the
                // worker gone).
                try? await channel.writeAndFlush(try WireWriter<Drover_V1_GetDataRequest>.frame(message))
                let read = try await outcome.get()
                BulkConnections.shared.keep(self)
                return BulkClient.Fetched(values: read.values, missing: read.missing)
            } onCancel: {
                channel.close(promise: nil)
            }
        }
    }

    private struct Kept {
        var connection: Connection
        var closing: Scheduled<Void>
    }

    private let kept = Mutex<[String: Kept]>([:])

    /// The connection kept for `identity`, if there is one still open.
    func take(_ identity: String) -> Connection? {
        guard let entry = kept.withLock({ $0.removeValue(forKey: identity) }) else { return nil }
        entry.closing.cancel()
        guard entry.connection.channel.isActive else {
            entry.connection.channel.close(promise: nil)
            return nil
        }
        return entry.connection
    }

    /// Keeps `connection` for the next fetch (closed when one is kept already).
    func keep(_ connection: Connection) {
        let channel = connection.channel
        let identity = connection.identity
        let closing = channel.eventLoop.scheduleTask(in: Self.idleTimeout) {
            self.drop(channel, identity: identity)
        }
        let displaced = kept.withLock { table -> Connection? in
            if table[identity] != nil { return connection }
            table[identity] = Kept(connection: connection, closing: closing)
            return nil
        }
        if displaced != nil {
            closing.cancel()
            channel.close(promise: nil)
        }
    }

    /// Closes `channel`, unused since it was kept.
    private func drop(_ channel: any Channel, identity: String) {
        kept.withLock { table in
            if let entry = table[identity], entry.connection.channel === channel { table[identity] = nil }
        }
        channel.close(promise: nil)
    }
}
