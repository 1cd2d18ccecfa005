import NIOCore
import NIOPosix

/// Turns a failed connection into one sentence when the two ends disagree about TLS, instead of
/// a transport error code.
///
/// The probe opens its own TCP connection and sends the HTTP/2 preface in plaintext: a plaintext
/// gRPC server answers with a SETTINGS frame, a TLS server closes or answers with a TLS alert.
public enum ConnectionDiagnosis {
    enum Answer: Sendable { case plaintextHTTP2, notPlaintext, unreachable }

    /// One sentence on why a connection to the `role` at `endpoint` failed, when the cause is a
    /// TLS mismatch or a certificate from another CA; nil when it is something else.
    ///
    /// - Parameters:
    ///   - endpoint: The server's address.
    ///   - role: What the server is ("scheduler", "worker", "nanny").
    ///   - security: This process's settings.
    ///   - error: The error the connection failed with.
    public static func explain(
        _ endpoint: HostAndPort, role: String, security: Security, error: any Error
    ) async -> String? {
        let text = String(reflecting: error)
        if security.isEncrypted {
            if text.contains("CERTIFICATE_VERIFY_FAILED") {
                return "The \(role) at \(endpoint) presented a certificate that is not signed by the CA in "
                    + "--tls-ca-file (or not issued for that host)."
            }
            if text.contains("UNKNOWN_CA") || text.contains("CERTIFICATE_REQUIRED") || text.contains("BAD_CERTIFICATE")
            {
                return "The \(role) at \(endpoint) refused this process's certificate: it is not signed by the "
                    + "cluster's CA."
            }
        }
        switch await probe(endpoint) {
        case .plaintextHTTP2 where security.isEncrypted:
            return "The \(role) at \(endpoint) does not use TLS: start it with --tls-ca-file, --tls-cert and "
                + "--tls-key, or connect without certificates."
        case .notPlaintext where !security.isEncrypted:
            return "The \(role) at \(endpoint) requires TLS: pass --tls-ca-file, --tls-cert and --tls-key "
                + "(a Security to Client.connect)."
        default:
            return nil
        }
    }

    /// What the server at `endpoint` answers to a plaintext HTTP/2 preface, within `timeout`.
    static func probe(_ endpoint: HostAndPort, timeout: Duration = .seconds(5)) async -> Answer {
        await withTaskGroup(of: Answer.self) { group in
            group.addTask { (try? await exchangePreface(endpoint)) ?? .unreachable }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return .unreachable
            }
            defer { group.cancelAll() }
            return await group.next() ?? .unreachable
        }
    }

    private static func exchangePreface(_ endpoint: HostAndPort) async throws -> Answer {
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connectTimeout(.seconds(2))
        let wrap: @Sendable (any Channel) -> EventLoopFuture<NIOAsyncChannel<ByteBuffer, ByteBuffer>> = { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
        let channel =
            if let path = endpoint.unixSocket {
                try await bootstrap.connect(to: try SocketAddress(unixDomainSocketPath: path), channelInitializer: wrap)
            } else {
                try await bootstrap.connect(host: endpoint.host, port: endpoint.port, channelInitializer: wrap)
            }
        return try await channel.executeThenClose { inbound, outbound in
            var preface = ByteBuffer(string: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            preface.writeBytes([0, 0, 0, 4, 0, 0, 0, 0, 0])  // an empty SETTINGS frame
            try await outbound.write(preface)
            var received = ByteBuffer()
            for try await var part in inbound {
                received.writeBuffer(&part)
                if received.readableBytes >= 4 { break }
            }
            // An HTTP/2 server's first frame is its SETTINGS (frame type 4, the fourth byte).
            let type = received.getInteger(at: received.readerIndex + 3, as: UInt8.self)
            return type == 4 ? .plaintextHTTP2 : .notPlaintext
        }
    }
}
