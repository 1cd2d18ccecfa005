import DroverProto
import Foundation
import Testing

@Suite struct SecurityTests {
    @Test func certificatesAreMadeOncePrivatelyAndNeverOverwritten() throws {
        let security = try Security.temporary()
        let directory = try #require(security.certificateDirectory)
        defer { try? FileManager.default.removeItem(atPath: directory.path) }
        let mode = { (path: String) in
            try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        }
        #expect(try mode(directory.path) == 0o700)
        #expect(try mode(directory.caFile) == 0o644)
        #expect(try mode(directory.path + "/ca-key.pem") == 0o600)
        for role in Role.allCases {
            #expect(try mode(directory.keyFile(for: role)) == 0o600)
            #expect(try mode(directory.certificateFile(for: role)) == 0o644)
        }
        #expect(security.certificateFile == directory.certificateFile(for: .client))
        #expect(security.forRole(.worker).certificateFile == directory.certificateFile(for: .worker))
        #expect(throws: SecurityError.self) { try CertificateDirectory.create(at: directory.path) }
    }

    @Test func settingsThatCannotWorkAreRefusedWithTheFlagsToPass() throws {
        #expect(throws: Never.self) { try Security.insecurePlaintext.validate() }
        let required = #expect(throws: SecurityError.self) {
            try Security(requireEncryption: true).validate()
        }
        #expect(required?.message.contains("--require-encryption is set") == true)
        let half = #expect(throws: SecurityError.self) { try Security(caFile: "/nonexistent").validate() }
        #expect(
            half?.message
                == "TLS needs --tls-ca-file, --tls-cert and --tls-key together; missing: --tls-cert, --tls-key.")
        let missing = #expect(throws: SecurityError.self) {
            try Security(caFile: "/nonexistent/ca.pem", certificateFile: "/x", keyFile: "/y").validate()
        }
        #expect(missing?.message.contains("--tls-ca-file /nonexistent/ca.pem: the file does not exist") == true)
        #expect(
            Security(caFile: "a", certificateFile: "b", keyFile: "c", requireEncryption: true).arguments == [
                "--tls-ca-file", "a", "--tls-cert", "b", "--tls-key", "c", "--require-encryption",
            ])
    }

    @Test func addressesMayNameTLSButOnlyWithCertificates() throws {
        #expect(HostAndPort("tls://10.0.0.1:8786") == HostAndPort(host: "10.0.0.1", port: 8786))
        let refused = #expect(throws: SecurityError.self) {
            _ = try Transports.endpoint("tls://10.0.0.1:8786", role: "scheduler", security: .insecurePlaintext)
        }
        #expect(refused?.message.contains("asks for TLS, but no certificates are given") == true)
    }

    @Test func aSchedulerMayBeNamedByItsUnixSocketAWorkerMayNot() throws {
        let socket = HostAndPort(unixSocket: "/run/drover/scheduler.sock")
        #expect(socket.host == "localhost", "the name TLS checks the certificate against")
        #expect(socket.description == "unix:/run/drover/scheduler.sock")
        #expect(HostAndPort(schedulerAddress: "unix:/run/drover/scheduler.sock") == socket)
        #expect(HostAndPort(schedulerAddress: "unix:///run/drover/scheduler.sock") == socket)
        #expect(HostAndPort(schedulerAddress: socket.description) == socket)
        #expect(HostAndPort(schedulerAddress: "10.0.0.1:8786") == HostAndPort(host: "10.0.0.1", port: 8786))
        let longest = "/" + String(repeating: "a", count: HostAndPort.maxUnixSocketPathBytes - 1)
        #expect(HostAndPort(schedulerAddress: "unix:" + longest)?.unixSocket == longest)
        for refused in ["unix:", "unix:relative.sock", "unix://relative.sock", "unix:" + longest + "a", "unix:/a\0b"] {
            #expect(HostAndPort(schedulerAddress: refused) == nil, "\(refused)")
        }
        // A worker's address is dialled from other hosts: never a Unix socket.
        #expect(HostAndPort("unix:/run/drover/scheduler.sock") == nil)
        #expect(
            try Transports.endpoint("unix:/s.sock", role: "scheduler", security: .insecurePlaintext)
                == .init(unixSocket: "/s.sock"))
        let relative = #expect(throws: SecurityError.self) {
            _ = try Transports.endpoint("unix:s.sock", role: "scheduler", security: .insecurePlaintext)
        }
        #expect(relative?.message.contains("host:port or unix:PATH") == true)
    }
}
