public import GRPCCore
public import GRPCNIOTransportHTTP2
import Glibc
public import Logging

/// The one place Drover makes gRPC transports: every server and client gets the limits in
/// ``TransportLimits`` and, when ``Security/isEncrypted``, mutual TLS with the process's
/// certificate.
///
/// Servers ask for a client certificate signed by the CA (without checking the client's host
/// name); clients check the server's certificate against the CA and the host they dialled.
public enum Transports {
    /// A server transport listening on `host:port`.
    ///
    /// - Parameters:
    ///   - host: The IPv4 address to listen on.
    ///   - port: The port (0: any free port).
    ///   - maxMessageBytes: The largest message the services accept (see ``TransportLimits``).
    ///   - security: TLS settings, or plaintext.
    public static func makeServer(
        host: String, port: Int, maxMessageBytes: Int = TransportLimits.maxMessageBytes,
        security: Security = .insecurePlaintext
    ) -> HTTP2ServerTransport.Posix {
        makeServer(address: .ipv4(host: host, port: port), maxMessageBytes: maxMessageBytes, security: security)
    }

    /// A server transport listening on a Unix-domain socket at `path` (the scheduler's gRPC
    /// server, behind its wire front).
    public static func makeServer(
        unixSocket path: String, maxMessageBytes: Int = TransportLimits.maxMessageBytes,
        security: Security = .insecurePlaintext
    ) -> HTTP2ServerTransport.Posix {
        makeServer(address: .unixDomainSocket(path: path), maxMessageBytes: maxMessageBytes, security: security)
    }

    private static func makeServer(
        address: GRPCNIOTransportCore.SocketAddress, maxMessageBytes: Int, security: Security
    ) -> HTTP2ServerTransport.Posix {
        .http2NIOPosix(
            address: address, transportSecurity: serverSecurity(security),
            config: TransportLimits.server(maxMessageBytes: maxMessageBytes))
    }

    /// A server transport on a socket that is already listening (systemd socket activation).
    ///
    /// - Parameters:
    ///   - descriptor: The listening socket.
    ///   - maxMessageBytes: The largest message the services accept (see ``TransportLimits``).
    ///   - security: TLS settings, or plaintext.
    public static func makeServer(
        listeningSocket descriptor: Int, maxMessageBytes: Int = TransportLimits.maxMessageBytes,
        security: Security = .insecurePlaintext
    ) -> HTTP2ServerTransport.Posix {
        .http2NIOPosix(
            listeningSocketDescriptor: descriptor, transportSecurity: serverSecurity(security),
            config: TransportLimits.server(maxMessageBytes: maxMessageBytes))
    }

    /// A client transport to `endpoint`.
    ///
    /// - Throws: When the transport cannot be made (for TLS: a certificate or key that does not load).
    public static func makeClient(
        to endpoint: HostAndPort, security: Security = .insecurePlaintext
    ) throws -> HTTP2ClientTransport.Posix {
        try .http2NIOPosix(
            target: target(endpoint), transportSecurity: clientSecurity(security), config: TransportLimits.client)
    }

    /// A Unix socket as a Unix socket target whose authority is `localhost` (TLS checks the
    /// server's certificate against that name), an IP address as an IP target (TLS then checks the
    /// certificate's IP names against the address: an IP cannot be sent as SNI), a name as a DNS
    /// target.
    static func target(_ endpoint: HostAndPort) -> any ResolvableTarget {
        if let path = endpoint.unixSocket { return .unixDomainSocket(path: path, authority: endpoint.host) }
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, endpoint.host, &v4) == 1 { return .ipv4(address: endpoint.host, port: endpoint.port) }
        if inet_pton(AF_INET6, endpoint.host, &v6) == 1 { return .ipv6(address: endpoint.host, port: endpoint.port) }
        return .dns(host: endpoint.host, port: endpoint.port)
    }

    /// A client transport to an address `host:port`, `tcp://host:port`, `tls://host:port` or
    /// `unix:PATH`.
    ///
    /// - Parameters:
    ///   - address: The server's address.
    ///   - role: What the server is, for messages ("scheduler", "worker", "nanny").
    ///   - security: TLS settings, or plaintext.
    /// - Throws: ``SecurityError`` for an address that is not `host:port` or `unix:PATH`, or a
    ///   `tls://` address without certificates; otherwise as ``makeClient(to:security:)``.
    public static func makeClient(
        address: String, role: String, security: Security = .insecurePlaintext
    ) throws -> HTTP2ClientTransport.Posix {
        try makeClient(to: endpoint(address, role: role, security: security), security: security)
    }

    /// Parses `address` (`host:port`, or `unix:PATH` on the server's host) and checks it agrees
    /// with `security`.
    ///
    /// - Throws: ``SecurityError`` for an address that is neither, or a `tls://` address without
    ///   certificates.
    public static func endpoint(_ address: String, role: String, security: Security) throws(SecurityError)
        -> HostAndPort
    {
        guard let endpoint = HostAndPort(schedulerAddress: address) else {
            throw SecurityError(
                "'\(address)' is not a \(role) address of the form host:port or unix:PATH (an absolute path of at "
                    + "most \(HostAndPort.maxUnixSocketPathBytes) bytes).")
        }
        if address.hasPrefix("tls://") && !security.isEncrypted {
            throw SecurityError(
                "The \(role) address \(address) asks for TLS, but no certificates are given: pass --tls-ca-file, "
                    + "--tls-cert and --tls-key.")
        }
        return endpoint
    }

    /// The interceptors a server with `security` installs: with TLS, ``RoleInterceptor`` checks
    /// every call against ``AccessPolicy``; without, there is no certificate to check.
    public static func interceptors(security: Security, logger: Logger) -> [any ServerInterceptor] {
        security.isEncrypted ? [RoleInterceptor(logger: logger)] : []
    }

    // MARK: - TLS settings

    static func serverSecurity(_ security: Security) -> HTTP2ServerTransport.Posix.TransportSecurity {
        guard let files = security.tlsFiles else { return .plaintext }
        return .mTLS(
            certificateChain: [.file(path: files.certificate, format: .pem)],
            privateKey: .file(path: files.key, format: .pem)
        ) { tls in
            tls.trustRoots = .certificates([.file(path: files.ca, format: .pem)])
            tls.clientCertificateVerification = .noHostnameVerification
        }
    }

    static func clientSecurity(_ security: Security) -> HTTP2ClientTransport.Posix.TransportSecurity {
        guard let files = security.tlsFiles else { return .plaintext }
        return .mTLS(
            certificateChain: [.file(path: files.certificate, format: .pem)],
            privateKey: .file(path: files.key, format: .pem)
        ) { tls in
            tls.trustRoots = .certificates([.file(path: files.ca, format: .pem)])
            tls.serverCertificateVerification = .fullVerification
        }
    }
}
