import DroverCore
public import DroverScheduler
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
public import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle

/// The scheduler's web dashboard, as Dask's on port 8787: a live status page, JSON for the same
/// data, a health check and Prometheus metrics.
///
/// Routes: `/` redirects to `/status` (the page: everything it needs is served from here, and it
/// updates itself from `/api/v1/stream`, server-sent events every `updateInterval`); `/health`
/// answers `ok`; `/api/v1/snapshot`, `/api/v1/workers`, `/api/v1/tasks`, `/api/v1/events` and
/// `/api/v1/task-stream` (`?since=` a cursor) serve JSON; `/metrics` serves Prometheus's text
/// format. Every reader shares one ``ClusterSnapshot`` taken at most every 250 ms, so browsers
/// and scrapers never cost the scheduler more than a few task counts a second.
public struct Dashboard: Sendable {
    let service: SchedulerService
    let host: String
    let port: Int
    let updateInterval: Duration
    let logger: Logger
    let cache: SnapshotCache
    let metrics = MetricsExporter()
    /// With a token, `/api/…` and `/metrics` need it (``BearerToken``).
    var token: String?
    /// With a certificate and key (PEM files), the dashboard serves HTTPS.
    var certificateFile: String?
    var keyFile: String?

    /// Whether the dashboard serves HTTPS.
    public var isHTTPS: Bool { certificateFile != nil && keyFile != nil }

    /// Creates a dashboard for `service`; nothing is served until ``run(onListening:)``.
    ///
    /// - Parameters:
    ///   - host: The address to listen on.
    ///   - port: The port to listen on: 0 for any free port; another port that is in use makes
    ///     the dashboard take any free port instead, with a warning (as Dask's does).
    ///   - updateInterval: How often the live page gets a new snapshot.
    ///   - token: A bearer token `/api/…` and `/metrics` require; nil for none.
    ///   - certificateFile: A certificate (PEM) to serve HTTPS with, with `keyFile`; nil for HTTP.
    ///   - keyFile: The certificate's private key (PEM).
    public init(
        service: SchedulerService, host: String = "127.0.0.1", port: Int = 8787,
        updateInterval: Duration = .milliseconds(500), token: String? = nil, certificateFile: String? = nil,
        keyFile: String? = nil, logger: Logger
    ) {
        self.init(
            service: service, host: host, port: port, updateInterval: updateInterval,
            snapshotMaximumAge: .milliseconds(250), logger: logger)
        self.token = token
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }

    /// `snapshotMaximumAge`: how long one snapshot serves every reader.
    init(
        service: SchedulerService, host: String, port: Int, updateInterval: Duration,
        snapshotMaximumAge: Duration, logger: Logger
    ) {
        self.service = service
        self.host = host
        self.port = port
        self.updateInterval = updateInterval
        self.logger = logger
        self.cache = SnapshotCache(service: service, maximumAge: snapshotMaximumAge)
    }

    /// Serves until the task is cancelled or its service group shuts down; calls `onListening`
    /// with the bound "host:port" once browsers can connect.
    ///
    /// - Throws: When the dashboard cannot listen.
    public func run(onListening: @escaping @Sendable (String) -> Void) async throws {
        do {
            try await serve(port: port, onListening: onListening)
        } catch let error as IOError where error.errnoCode == EADDRINUSE && port != 0 {
            logger.warning(
                "dashboard port in use, serving the dashboard on another port",
                metadata: ["dashboard.port": "\(port)"])
            try await serve(port: 0, onListening: onListening)
        }
    }

    private func serve(port: Int, onListening: @escaping @Sendable (String) -> Void) async throws {
        let host = host
        let router = makeRouter()
        let application = Application(
            router: router,
            server: try serverBuilder(),
            configuration: .init(address: .hostname(host, port: port), serverName: "drover"),
            onServerRunning: { channel in
                onListening("\(host):\(channel.localAddress?.port ?? port)")
            },
            logger: logger
        )
        try await application.run()
    }

    /// HTTP/1.1, over TLS with the certificate when one is given.
    private func serverBuilder() throws -> HTTPServerBuilder {
        guard let certificateFile, let keyFile else { return .http1() }
        let chain = try NIOSSLCertificate.fromPEMFile(certificateFile).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        return try .tls(
            tlsConfiguration: .makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key)))
    }
}

// MARK: - Routes

extension Dashboard {
    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        // Before the routes: a middleware applies to the routes added after it.
        if let token { router.add(middleware: BearerTokenMiddleware(bearer: BearerToken(token: token))) }
        router.get("/") { _, _ in Response(status: .seeOther, headers: [.location: "/status"]) }
        router.get("/status") { _, _ in
            Self.response(StatusPage.html, type: "text/html; charset=utf-8")
        }
        router.get("/health") { _, _ in Self.response("ok", type: "text/plain; charset=utf-8") }
        router.get("/metrics") { _, _ in
            let shared = await cache.current()
            return Self.response(metrics.render(shared.snapshot), type: "text/plain; version=0.0.4; charset=utf-8")
        }
        router.get("/api/v1/snapshot") { request, _ in
            let since = try Self.cursor(request)
            let shared = await cache.current()
            var snapshot = shared.snapshot
            snapshot.taskStream = Array(shared.executions(since: since))
            return try Self.json(snapshot)
        }
        router.get("/api/v1/workers") { _, _ in try Self.json(await cache.current().snapshot.workers) }
        router.get("/api/v1/tasks") { _, _ in
            let snapshot = await cache.current().snapshot
            return try Self.json(TaskCounts(totals: snapshot.totals, functions: snapshot.functions))
        }
        router.get("/api/v1/events") { _, _ in try Self.json(await cache.current().snapshot.events) }
        router.get("/api/v1/task-stream") { request, _ in
            let since = try Self.cursor(request)
            let shared = await cache.current()
            return try Self.json(
                TaskStream(cursor: shared.snapshot.taskStreamCursor, executions: Array(shared.executions(since: since)))
            )
        }
        router.get("/api/v1/stream") { request, _ in try liveUpdates(request) }
        return router
    }

    /// What `/api/v1/tasks` answers.
    struct TaskCounts: Encodable {
        var totals: ClusterSnapshot.Totals
        var functions: [ClusterSnapshot.FunctionProgress]
    }

    /// What `/api/v1/task-stream` answers: pass `cursor` as `since` next time.
    struct TaskStream: Encodable {
        var cursor: Int
        var executions: [ClusterHistory.Execution]
    }

    static func cursor(_ request: Request) throws -> Int {
        guard let text = request.uri.queryParameters.get("since") else { return 0 }
        guard let cursor = Int(text), cursor >= 0 else {
            throw HTTPError(
                .badRequest, message: "'since' must be a task-stream cursor (an integer ≥ 0), not '\(text)'.")
        }
        return cursor
    }

    static func response(_ text: String, type: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: type, .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func json(_ value: some Encodable) throws -> Response {
        let data = try JSONEncoder().encode(value)
        return Response(
            status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

// MARK: - Live updates

extension Dashboard {
    /// Server-sent events: a `snapshot` event every `updateInterval` while the scheduler changes,
    /// each with the task executions this connection has not had, its `id` the cursor after them.
    ///
    /// `?events=N` ends the response after N events; the status page asks for one, and its
    /// `EventSource` comes back after the `retry` delay with the `Last-Event-ID` it got, so it
    /// gets only what is new. (A response that never ends would hold a browser's virtual time,
    /// and with it headless renderings, forever.) Without a known cursor, the first event says
    /// `"reset": true` and brings the recent executions. Ends when the browser goes away or the
    /// server shuts down.
    func liveUpdates(_ request: Request) throws -> Response {
        let limit = try Self.eventLimit(request)
        let lastEventID = request.headers[Self.lastEventID].flatMap { Int($0) }
        let body = ResponseBody { [cache, updateInterval] writer in
            var cursor = lastEventID
            var lastTaken: ContinuousClock.Instant?
            var sent = 0
            while sent < limit && !Task.isCancelled && !Task.isShuttingDownGracefully {
                let shared = await cache.current()
                if shared.taken != lastTaken {
                    let executions: ArraySlice<ClusterHistory.Execution>
                    // A cursor past the scheduler's own is from an earlier scheduler: start over.
                    let known = cursor.flatMap { $0 <= shared.snapshot.taskStreamCursor ? $0 : nil }
                    if let known {
                        executions = shared.executions(since: known)
                    } else {
                        // The page shows the last minutes: a new connection gets those, at most 2000.
                        let recent = shared.executions.drop { $0.stop < shared.snapshot.time - 300 }
                        executions = recent.suffix(2000)
                    }
                    try await writer.write(Self.event(shared, executions, reset: known == nil))
                    cursor = shared.snapshot.taskStreamCursor
                    lastTaken = shared.taken
                    sent += 1
                    if sent == limit { break }
                }
                try await Task.sleep(for: updateInterval)
            }
            try await writer.finish(nil)
        }
        return Response(
            status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"], body: body)
    }

    static let lastEventID = HTTPField.Name("Last-Event-ID")!

    static func eventLimit(_ request: Request) throws -> Int {
        guard let text = request.uri.queryParameters.get("events") else { return .max }
        guard let limit = Int(text), limit > 0 else {
            throw HTTPError(
                .badRequest, message: "'events' must be how many events to send (an integer ≥ 1), not '\(text)'.")
        }
        return limit
    }

    /// `event: snapshot` with `{"reset":…,"snapshot":…,"taskStream":[…]}` as its data (one line),
    /// the task-stream cursor as its id, and the page's reconnection delay.
    static func event(
        _ shared: SnapshotCache.Shared, _ executions: ArraySlice<ClusterHistory.Execution>, reset: Bool
    ) throws -> ByteBuffer {
        var buffer = ByteBuffer(
            string: "retry: 500\nid: \(shared.snapshot.taskStreamCursor)\nevent: snapshot\n"
                + "data: {\"reset\":\(reset),\"snapshot\":")
        buffer.writeBytes(shared.json)
        buffer.writeString(",\"taskStream\":")
        buffer.writeBytes(try JSONEncoder().encode(Array(executions)))
        buffer.writeString("}\n\n")
        return buffer
    }
}
