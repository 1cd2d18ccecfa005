public import DroverCore
import GRPCCore
import GRPCNIOTransportHTTP2
import SwiftProtobuf
import Synchronization

/// The client side of `Worker.GetData` and `Worker.PutData`: what peers (transfer) and clients
/// (gather, scatter) both use, over connections kept in a ``PeerConnections``.
public enum DataFetch {
    /// Fetches `keys` from the worker at `address` (`host:port`) and returns what it had.
    ///
    /// - Throws: ``ProtoConversionError`` for a malformed address or stream; the RPC's error when
    ///   the worker cannot be reached (its connection is then dropped from `connections`).
    ///
    /// Requests are cut to ``maxRequestKeyBytes`` of keys each (a gather of half a million keys would
    /// otherwise be one message over the worker's limit) and sent one after another on the same
    /// connection.
    ///
    /// With `sharing`, a peer of the same host may offer large values as memory segments; they
    /// are mapped with `sharing.map`, and those it cannot map are fetched again as bytes.
    ///
    /// With `bulk` (the default unless `DROVER_PROTOCOL=grpc`), a peer may offer values of at
    /// least ``BulkStream/minValueBytes`` over its bulk stream; they are then read from there,
    /// each into one buffer (see ``BulkStream``). A peer that does not serve it sends bytes.
    public static func fetch(
        _ keys: [TaskKey], from address: String, connections: PeerConnections, idleTimeout: Duration = idleTimeout,
        maxRequestKeyBytes: Int = maxRequestKeyBytes, sharing: SharedMemoryAccess? = nil,
        bulk: Bool = BulkStream.isEnabled
    ) async throws -> [TaskKey: Payload] {
        var values: [TaskKey: Payload] = [:]
        var start = keys.startIndex
        while start < keys.endIndex {
            var end = start
            var bytes = 0
            while end < keys.endIndex
                && (end == start || bytes + keys[end].rawValue.utf8.count + 8 <= maxRequestKeyBytes)
            {
                bytes += keys[end].rawValue.utf8.count + 8
                end += 1
            }
            let (part, shared, offered) = try await fetchOnce(
                keys[start..<end], from: address, connections: connections, idleTimeout: idleTimeout,
                sharing: sharing, bulk: bulk)
            values.merge(part) { first, _ in first }
            if !offered.isEmpty {
                let fetched = try await fetchBulk(offered, from: address, connections: connections)
                values.merge(fetched) { first, _ in first }
            }
            if let sharing, !shared.isEmpty {
                let mapped = await sharing.map(Array(shared.values))
                values.merge(mapped) { first, _ in first }
                let unmapped = shared.keys.filter { mapped[$0] == nil }
                if !unmapped.isEmpty {
                    let (bytes, _, offered) = try await fetchOnce(
                        unmapped[...], from: address, connections: connections, idleTimeout: idleTimeout, sharing: nil,
                        bulk: bulk)
                    values.merge(bytes) { first, _ in first }
                    if !offered.isEmpty {
                        let fetched = try await fetchBulk(offered, from: address, connections: connections)
                        values.merge(fetched) { first, _ in first }
                    }
                }
            }
            start = end
        }
        return values
    }

    /// The most bytes of keys one `GetData` request carries: well under a worker's message limit.
    public static let maxRequestKeyBytes = 1 << 20

    /// Reads the values a peer offered over its bulk stream (the sizes it announced with them).
    private static func fetchBulk(
        _ offered: [TaskKey: Int64], from address: String, connections: PeerConnections
    ) async throws -> [TaskKey: Payload] {
        guard let endpoint = HostAndPort(address) else {
            throw ProtoConversionError(message: "'\(address)' is not a worker address of the form host:port.")
        }
        let keys = offered.keys.sorted { $0.rawValue < $1.rawValue }
        return try await BulkClient.fetch(
            keys, from: endpoint, security: connections.security, expectedBytes: offered
        ).values
    }

    private typealias Answer = ([TaskKey: Payload], [TaskKey: SharedValue], [TaskKey: Int64])

    private static func fetchOnce(
        _ keys: ArraySlice<TaskKey>, from address: String, connections: PeerConnections, idleTimeout: Duration,
        sharing: SharedMemoryAccess?, bulk: Bool
    ) async throws -> Answer {
        let client = try connections.client(for: address)
        let request = Drover_V1_GetDataRequest.with {
            $0.keys = keys.map(\.rawValue)
            $0.sharedMemoryHost = sharing?.host ?? ""
            $0.acceptsBulk = bulk
        }
        let progress = Progress()
        do {
            return try await withThrowingTaskGroup(of: Answer?.self) { group in
                group.addTask {
                    try await Drover_V1_Worker.Client(wrapping: client).getData(
                        request, options: TransportLimits.callOptions
                    ) { response in
                        var assembler = DataChunks.Assembler(acceptsShared: sharing != nil, acceptsBulk: bulk)
                        for try await message in response.messages {
                            progress.mark()
                            for chunk in message.chunks { try assembler.add(chunk) }
                        }
                        return (assembler.values, assembler.shared, assembler.bulk)
                    }
                }
                group.addTask {
                    // A hung peer (stopped, deadlocked) accepts the connection and then says
                    // nothing: give up once nothing has arrived for `idleTimeout`.
                    while true {
                        try await Task.sleep(for: .milliseconds(250))
                        if progress.idle > idleTimeout {
                            throw RPCError(
                                code: .deadlineExceeded,
                                message: "The worker at \(address) sent nothing for \(idleTimeout); it may be hung.")
                        }
                    }
                }
                defer { group.cancelAll() }
                while let result = try await group.next() {
                    if let values = result { return values }
                }
                return ([:], [:], [:])
            }
        } catch let error as RPCError {
            connections.drop(address)
            throw error
        }
    }

    /// How long a fetch waits for the next message from a peer before it gives up on it: a peer
    /// that is merely slow sends its chunks well within this; a hung one sends none.
    public static let idleTimeout = Duration.seconds(10)

    /// When a fetch last heard from its peer.
    private final class Progress: Sendable {
        private let last = Mutex(ContinuousClock.now)

        func mark() { last.withLock { $0 = .now } }

        var idle: Duration { ContinuousClock.now - last.withLock { $0 } }
    }

    /// Stores `values` on the worker at `address` (scatter) and returns the keys it stored.
    public static func put(
        _ values: [(TaskKey, Payload)], to address: String, connections: PeerConnections
    ) async throws -> [TaskKey] {
        let client = try connections.client(for: address)
        do {
            let response = try await Drover_V1_Worker.Client(wrapping: client).putData(
                options: TransportLimits.callOptions,
                requestProducer: { writer in
                    var packer = DataChunks.Packer()
                    for (key, payload) in values {
                        for chunk in DataChunks.split(payload, key: key) {
                            if let message = packer.add(chunk) { try await writer.write(message) }
                        }
                    }
                    if let message = packer.flush() { try await writer.write(message) }
                }
            )
            return response.keys.map { TaskKey($0) }
        } catch let error as RPCError {
            connections.drop(address)
            throw error
        }
    }
}
