public import GRPCCore
public import GRPCNIOTransportHTTP2
import Synchronization

/// One long-lived HTTP/2 connection per worker address, shared by every transfer to that worker.
///
/// Opening a connection costs a TCP and HTTP/2 handshake (about a millisecond here); a worker
/// fetching inputs from the same peers for every task, or a client gathering from the same
/// workers, keeps them open instead. A connection whose call failed is dropped, so a restarted
/// worker at the same address gets a fresh one.
public final class PeerConnections: Sendable {
    private struct Connection: Sendable {
        var client: GRPCClient<HTTP2ClientTransport.Posix>
        var runner: Task<Void, Never>
    }

    private let connections = Mutex<[HostAndPort: Connection]>([:])
    private let isClosed = Atomic(false)
    let security: Security

    /// Connections with `security` (the same for every worker).
    public init(security: Security = .insecurePlaintext) {
        self.security = security
    }

    /// The client for `address`, connecting on first use.
    ///
    /// - Throws: ``ProtoConversionError`` for an address that is not `host:port`, or when closed.
    public func client(for address: String) throws -> GRPCClient<HTTP2ClientTransport.Posix> {
        guard let endpoint = HostAndPort(address) else {
            throw ProtoConversionError(message: "'\(address)' is not a worker address of the form host:port.")
        }
        guard !isClosed.load(ordering: .relaxed) else {
            throw ProtoConversionError(message: "The connections to workers are closed.")
        }
        return try connections.withLock { connections in
            if let existing = connections[endpoint] { return existing.client }
            let client = GRPCClient(
                transport: try Transports.makeClient(to: endpoint, security: security)
            )
            let runner = Task { _ = try? await client.runConnections() }
            connections[endpoint] = Connection(client: client, runner: runner)
            return client
        }
    }

    /// Forgets the connection to `address` after a failed call; the next call connects anew.
    public func drop(_ address: String) {
        guard let endpoint = HostAndPort(address) else { return }
        let dropped = connections.withLock { $0.removeValue(forKey: endpoint) }
        dropped?.client.beginGracefulShutdown()
    }

    /// Closes every connection and waits for them to end.
    public func close() async {
        isClosed.store(true, ordering: .relaxed)
        let all = connections.withLock { connections in
            defer { connections = [:] }
            return Array(connections.values)
        }
        for connection in all { connection.client.beginGracefulShutdown() }
        for connection in all { await connection.runner.value }
    }

    deinit {
        for connection in connections.withLock({ Array($0.values) }) { connection.client.beginGracefulShutdown() }
    }
}
