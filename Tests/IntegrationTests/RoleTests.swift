import DroverClient
import DroverCore
import DroverProto
import DroverTestKit
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import SwiftProtobuf
import Testing

/// Roles in certificates, checked by real servers on every call: a certificate of the wrong role
/// is refused with `permissionDenied` and the reason, the refusal is logged with the caller's
/// identity, and the cluster keeps computing.
@Suite(.timeLimit(.minutes(1))) struct RoleTests {
    /// Calls `body` with a connection to `address` using `security`.
    static func call<Result: Sendable>(
        _ address: String, security: Security,
        _ body: @Sendable (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> Result
    ) async throws -> Result {
        let endpoint = try #require(HostAndPort(address))
        return try await withGRPCClient(transport: try Transports.makeClient(to: endpoint, security: security)) {
            try await body($0)
        }
    }

    @Test func aClientCertificateMayNotOpenAWorkerStream() async throws {
        let (cluster, client) = try await SecurityTests.cluster()
        defer { cluster.stop() }
        let error = try await #require(throws: RPCError.self) {
            try await Self.call(cluster.address, security: client) { grpc in
                try await Drover_V1_Scheduler.Client(wrapping: grpc).workerStream(
                    requestProducer: { writer in
                        try await writer.write(
                            .with {
                                $0.events = [
                                    .with {
                                        $0.register = .with {
                                            $0.id = "impostor"
                                            $0.address = "127.0.0.1:1"
                                            $0.threads = 8
                                        }
                                    }
                                ]
                            })
                    },
                    onResponse: { response in for try await _ in response.messages {} })
            }
        }
        #expect(error.code == .permissionDenied)
        #expect(
            error.message == "drover.v1.Scheduler/WorkerStream needs a worker certificate; the caller's names client.")
        #expect(cluster.scheduler.log().contains("refused a call"))
        #expect(cluster.scheduler.log().contains("OU=client"))
        #expect(try await SecurityTests.computeTheExercise(cluster.address, security: client) == 145)
    }

    @Test func aWorkerCertificateMayNotReportAWorkerExit() async throws {
        let (cluster, client) = try await SecurityTests.cluster()
        defer { cluster.stop() }
        let worker = try #require(client.certificateDirectory).security(for: .worker)
        let error = try await #require(throws: RPCError.self) {
            try await Self.call(cluster.address, security: worker) { grpc in
                try await Drover_V1_Scheduler.Client(wrapping: grpc).reportWorkerExit(
                    .with {
                        $0.workerID = "w0"
                        $0.address = cluster.workerAddresses[0]
                        $0.cause = "forged"
                    })
            }
        }
        #expect(error.code == .permissionDenied)
        #expect(error.message.contains("ReportWorkerExit needs a nanny certificate"))
        #expect(try await SecurityTests.computeTheExercise(cluster.address, security: client) == 145)
    }

    @Test func putDataMayNotOverwriteAKeyAWorkerHolds() async throws {
        let (cluster, security) = try await SecurityTests.cluster()
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, security: security, setAsDefault: false)
        try await client.waitForWorkers(2)
        let victim = try await client.scatter([1, 2, 3], workers: [cluster.workerAddresses[0]])
        // Another client (its own certificate from the same CA) tries to replace the value.
        let error = try await #require(throws: RPCError.self) {
            try await Self.call(cluster.workerAddresses[0], security: security) { grpc in
                try await Drover_V1_Worker.Client(wrapping: grpc).putData(requestProducer: { writer in
                    try await writer.write(
                        .with {
                            $0.chunks = DataChunks.split(try [6, 6, 6].encodePayload(), key: victim.key)
                        })
                })
            }
        }
        #expect(error.code == .permissionDenied)
        #expect(error.message.contains("this worker already holds '\(victim.key)'"))
        #expect(cluster.workers[0].log().contains("refused a PutData of a key held here"))
        #expect(try await victim.result() == [1, 2, 3])
        #expect(try await client.submit(Builtins.sum, victim).result() == 6)
        await client.close()
    }

    @Test func onlyTheSchedulerMayAskANannyToKillAWorker() async throws {
        let security = try Security.temporary()
        let certificates = try #require(security.certificateDirectory)
        let cluster = try await NannyCluster([.init(name: "n", workers: 1)], certificates: certificates)
        let worker = try #require(try await cluster.status().workers.first)
        for role in [Role.client, .worker, .nanny] {
            let error = try await #require(throws: RPCError.self) {
                try await Self.call(cluster.nannyAddresses[0], security: certificates.security(for: role)) { grpc in
                    try await Drover_V1_Nanny.Client(wrapping: grpc).killWorker(
                        .with {
                            $0.workerID = worker.name
                            $0.address = worker.address
                            $0.reason = "forged"
                        })
                }
            }
            #expect(error.code == .permissionDenied)
            #expect(error.message.contains("KillWorker needs a scheduler certificate"))
        }
        let after = try #require(try await cluster.status().workers.first)
        #expect(after.pid == worker.pid && after.restarts == 0)
        let client = try await Client.connect(cluster.address, security: security, setAsDefault: false)
        #expect(try await client.submit(Builtins.add, 1, 2).result() == 3)
        await client.close()
        await cluster.stop()
    }
}
