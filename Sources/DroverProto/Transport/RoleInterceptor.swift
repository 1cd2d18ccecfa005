public import GRPCCore
import GRPCNIOTransportHTTP2
public import Logging
import X509

/// Checks every call against ``AccessPolicy`` using the roles in the caller's certificate; a
/// server with TLS installs it (a plaintext server has no certificates to check).
///
/// A refusal is `permissionDenied` with the table's reason, logged at warning with the peer's
/// address and certificate subject.
public struct RoleInterceptor: ServerInterceptor {
    let logger: Logger

    /// An interceptor logging refusals to `logger`.
    public init(logger: Logger) {
        self.logger = logger
    }

    public func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>,
        context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        let method = "\(context.descriptor.service.fullyQualifiedService)/\(context.descriptor.method)"
        let peer = Self.peer(of: context)
        if let reason = AccessPolicy.refusal(
            of: method, roles: peer.roles, subject: peer.subject, peer: context.remotePeer, logger: logger)
        {
            throw RPCError(code: .permissionDenied, message: reason)
        }
        return try await next(request, context)
    }

    /// The roles and subject of the caller's certificate (no roles and "no certificate" without one).
    public static func peer(of context: ServerContext) -> (roles: Set<Role>, subject: String) {
        guard let transport = context.transportSpecific as? HTTP2ServerTransport.Posix.Context,
            let certificate = transport.peerCertificate
        else { return ([], "no certificate") }
        return (Role.roles(in: certificate), "\(certificate.subject)")
    }
}

extension Role {
    /// The roles a certificate names (`drover:role:<role>` subject alternative names).
    static func roles(in certificate: Certificate) -> Set<Role> {
        var roles = Set<Role>()
        if let names = try? certificate.extensions.subjectAlternativeNames {
            for case .uniformResourceIdentifier(let uri) in names {
                if let role = Role(uri: uri) { roles.insert(role) }
            }
        }
        return roles
    }
}
