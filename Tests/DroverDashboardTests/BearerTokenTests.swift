import DroverProto
import Foundation
import Testing

@testable import DroverDashboard

@Suite(.timeLimit(.minutes(1))) struct BearerTokenTests {
    @Test func onlyTheAPIAndMetricsNeedTheToken() {
        for path in ["/api/v1/snapshot", "/api/v1/stream", "/api", "/metrics"] {
            #expect(BearerToken.isProtected(path))
        }
        for path in ["/status", "/health", "/", "/apiary", "/metrics.txt"] { #expect(!BearerToken.isProtected(path)) }
    }

    @Test func theTokenIsTakenFromTheHeaderOrTheQuery() {
        let bearer = BearerToken(token: "s3cret")
        #expect(bearer.admits(authorization: "Bearer s3cret", queryToken: nil))
        #expect(bearer.admits(authorization: nil, queryToken: "s3cret"))
        #expect(!bearer.admits(authorization: "Bearer s3cre", queryToken: nil))
        #expect(!bearer.admits(authorization: "Basic s3cret", queryToken: nil))
        #expect(!bearer.admits(authorization: "Bearer s3cret ", queryToken: "other"))
        #expect(!bearer.admits(authorization: nil, queryToken: nil))
    }

    @Test func aDashboardWithATokenRefusesTheAPIWithoutIt() async throws {
        try await DashboardTests().withDashboard(token: "s3cret") { _, address in
            let refused = try await HTTPGet.get("/api/v1/workers", from: address)
            #expect(refused.status == 401)
            #expect(refused.headers["www-authenticate"] == "Bearer")
            #expect(try await HTTPGet.get("/metrics", from: address).status == 401)
            let header = try await HTTPGet.get(
                "/api/v1/workers", from: address, headers: ["Authorization": "Bearer s3cret"])
            #expect(header.status == 200)
            #expect(try await HTTPGet.get("/metrics?token=s3cret", from: address).status == 200)
            #expect(try await HTTPGet.get("/status", from: address).status == 200)
            #expect(try await HTTPGet.get("/health", from: address).body == "ok")
        }
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/curl"), "needs curl as the HTTPS client"))
    func withACertificateTheDashboardServesHTTPSVerifiedByTheCA() async throws {
        let security = try Security.temporary()
        let directory = try #require(security.certificateDirectory)
        defer { try? FileManager.default.removeItem(atPath: directory.path) }
        try await DashboardTests().withDashboard(
            certificateFile: directory.certificateFile(for: .scheduler), keyFile: directory.keyFile(for: .scheduler)
        ) { _, address in
            let secure = try await Self.curl(["--cacert", directory.caFile, "https://\(address)/health"])
            #expect(secure == "ok")
            // Plain HTTP gets no answer from a TLS server.
            let plain = try await Self.curl(["http://\(address)/health"])
            #expect(plain == nil)
        }
    }

    /// curl's output, or nil when it fails; on a thread of its own.
    static func curl(_ arguments: [String]) async throws -> String? {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(
                    with: Result {
                        let process = Process()
                        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
                        process.arguments = ["-sS", "--fail", "--max-time", "10"] + arguments
                        let output = Pipe()
                        process.standardOutput = output
                        process.standardError = FileHandle.nullDevice
                        try process.run()
                        let data = output.fileHandleForReading.readDataToEndOfFile()
                        process.waitUntilExit()
                        return process.terminationStatus == 0 ? String(decoding: data, as: UTF8.self) : nil
                    })
            }
        }
    }
}
