import HTTPTypes
import Hummingbird

/// The dashboard's optional bearer token (`--dashboard-token`): `/api/…` and `/metrics` answer
/// only requests that carry it, as `Authorization: Bearer <token>` (Prometheus's
/// `authorization:` setting) or `?token=` (the status page, whose EventSource cannot send headers).
/// `/status` and `/health` stay open: the page holds no data until its API calls are answered.
struct BearerToken: Sendable {
    let token: String

    /// Whether `path` needs the token.
    static func isProtected(_ path: String) -> Bool {
        path == "/api" || path.hasPrefix("/api/") || path == "/metrics"
    }

    /// Whether a request with this `Authorization` header and `token` query parameter may pass.
    func admits(authorization: String?, queryToken: String?) -> Bool {
        if let authorization, authorization.hasPrefix("Bearer "),
            Self.equal(String(authorization.dropFirst("Bearer ".count)), token)
        {
            return true
        }
        if let queryToken, Self.equal(queryToken, token) { return true }
        return false
    }

    /// Compares in time independent of where the strings differ.
    static func equal(_ a: String, _ b: String) -> Bool {
        let (x, y) = (Array(a.utf8), Array(b.utf8))
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

/// Refuses unauthorised requests to protected paths with 401 and `WWW-Authenticate: Bearer`.
struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let bearer: BearerToken

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard BearerToken.isProtected(request.uri.path),
            !bearer.admits(
                authorization: request.headers[.authorization], queryToken: request.uri.queryParameters.get("token"))
        else { return try await next(request, context) }
        return Response(
            status: .unauthorized, headers: [.wwwAuthenticate: "Bearer"],
            body: .init(byteBuffer: ByteBuffer(string: "This dashboard needs its bearer token (--dashboard-token).\n")))
    }
}
