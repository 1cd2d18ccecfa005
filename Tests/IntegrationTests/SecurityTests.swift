import DroverClient
import DroverCore
import DroverProto
import DroverTestKit
import Foundation
import Testing

/// Mutual TLS between real processes with real certificates: the cluster computes, and a peer
/// that does not speak TLS, or holds a certificate from another CA, is refused with one sentence
/// while the cluster keeps serving.
@Suite(.timeLimit(.minutes(1))) struct SecurityTests {
    /// A throwaway CA and certificates, and a two-worker cluster using them.
    static func cluster() async throws -> (LocalTestCluster, Security) {
        let client = try Security.temporary()
        let certificates = try #require(client.certificateDirectory)
        return (try await LocalTestCluster(workers: 2, certificates: certificates), client)
    }

    /// The tutorial's exercise, with a value moving between workers (peer transfer) and gathered
    /// from them (client to worker): every connection is TLS.
    static func computeTheExercise(_ address: String, security: Security) async throws -> Int {
        let client = try await Client.connect(address, security: security, setAsDefault: false)
        try await client.waitForWorkers(2)
        let onFirst = try client.submit(Builtins.noop, 41, workers: ["w0"])
        let onSecond = try client.submit(Builtins.add, onFirst, 1, workers: ["w1"])
        #expect(try await onSecond.result() == 42)
        var output: [Future<Int>] = []
        for x in 0..<10 {
            let a = try client.submit(Builtins.noop, x + 1)
            let b = try client.submit(Builtins.noop, 2 * x)
            output.append(try client.submit(Builtins.add, a, b))
        }
        #expect(try await client.gather(output).count == 10)
        let total = try await client.submit(Builtins.sum, output).result()
        await client.close()
        return total
    }

    @Test func aClusterWithMutualTLSComputesTheTutorialsExercise() async throws {
        let (cluster, security) = try await Self.cluster()
        defer { cluster.stop() }
        #expect(try await Self.computeTheExercise(cluster.address, security: security) == 145)
        #expect(try await Self.computeTheExercise("tls://" + cluster.address, security: security) == 145)
    }

    @Test func aPlaintextClientIsToldTheSchedulerRequiresTLS() async throws {
        let (cluster, security) = try await Self.cluster()
        defer { cluster.stop() }
        let plaintext = try await Client.connect(cluster.address, setAsDefault: false)
        let error = try await #require(throws: ClientError.self) { try await plaintext.waitForWorkers(1) }
        #expect(error.message.contains("The scheduler at \(cluster.address) requires TLS: pass --tls-ca-file"))
        await plaintext.close()
        await #expect(throws: ClientError.self) {
            _ = try await ClusterStatus.fetch(from: cluster.address)
        }
        // The cluster is unharmed.
        #expect(try await Self.computeTheExercise(cluster.address, security: security) == 145)
    }

    @Test func aCertificateFromAnotherCAIsRefusedEitherWay() async throws {
        let (cluster, security) = try await Self.cluster()
        defer { cluster.stop() }
        let other = try Security.temporary()
        // Another CA's client certificate, trusting that other CA too.
        let stranger = try await Client.connect(cluster.address, security: other, setAsDefault: false)
        let error = try await #require(throws: ClientError.self) { try await stranger.waitForWorkers(1) }
        #expect(error.message.contains("is not signed by"))
        await stranger.close()
        // Our CA trusted, another CA's certificate presented: the scheduler refuses it.
        var forged = other
        forged.caFile = security.caFile
        let refused = try await #require(throws: ClientError.self) {
            _ = try await ClusterStatus.fetch(from: cluster.address, security: forged)
        }
        #expect(refused.message.contains("refused this process's certificate: it is not signed by the cluster's CA"))
        #expect(try await Self.computeTheExercise(cluster.address, security: security) == 145)
    }

    @Test func aTLSClientIsToldAPlaintextSchedulerDoesNotUseTLS() async throws {
        let cluster = try await LocalTestCluster(workers: 1)
        defer { cluster.stop() }
        let error = try await #require(throws: ClientError.self) {
            _ = try await ClusterStatus.fetch(from: cluster.address, security: try Security.temporary())
        }
        #expect(error.message.contains("The scheduler at \(cluster.address) does not use TLS"))
    }

    @Test func aLocalClusterUsesTLSUnlessToldToGiveItUp() async throws {
        let cluster = try await LocalCluster(
            workers: 1, threadsPerWorker: 1, memoryLimit: "0", dashboard: false, executable: TestBinaries.testTasks)
        let certificates = try #require(cluster.security.certificateDirectory)
        #expect(cluster.security.isEncrypted)
        #expect(try FileManager.default.attributesOfItem(atPath: certificates.path)[.posixPermissions] as? Int == 0o700)
        let keyMode = try FileManager.default.attributesOfItem(atPath: certificates.keyFile(for: .client))
        #expect(keyMode[.posixPermissions] as? Int == 0o600)
        let plaintext = try await Client.connect(cluster.address, setAsDefault: false)
        let error = try await #require(throws: ClientError.self) { try await plaintext.waitForWorkers(1) }
        #expect(error.message.contains("requires TLS"))
        await plaintext.close()
        let client = try await Client.connect(cluster.address, security: cluster.security, setAsDefault: false)
        #expect(try await client.submit(Builtins.add, 1, 2).result() == 3)
        await client.close()
        cluster.close()
        #expect(!FileManager.default.fileExists(atPath: certificates.path), "the throwaway CA is removed")

        let open = try await LocalCluster(
            workers: 1, threadsPerWorker: 1, memoryLimit: "0", dashboard: false, executable: TestBinaries.testTasks,
            insecurePlaintext: true)
        defer { open.close() }
        #expect(!open.security.isEncrypted)
        let anyone = try await Client.connect(open.address, setAsDefault: false)
        #expect(try await anyone.submit(Builtins.add, 1, 2).result() == 3)
        await anyone.close()
    }

    @Test func halfTheFlagsOrAMissingFileAreRefusedBeforeAnythingStarts() async throws {
        let security = try Security.temporary()
        let directory = try #require(security.certificateDirectory)
        let half = try ProcessHarness(
            TestBinaries.testTasks,
            ["scheduler", "--port", "0", "--tls-cert", directory.certificateFile(for: .scheduler)],
            name: "scheduler")
        await #expect(throws: HarnessError.self) { try await half.listeningAddress() }
        #expect(half.log().contains("TLS needs --tls-ca-file, --tls-cert and --tls-key together"), "\(half.log())")
        half.stop()
        let tlsAddress = try await #require(throws: ClientError.self) {
            _ = try await Client.connect("tls://127.0.0.1:1", setAsDefault: false)
        }
        #expect(tlsAddress.message.contains("asks for TLS, but no certificates are given"))
    }
}
