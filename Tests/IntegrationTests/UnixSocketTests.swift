import DroverClient
import DroverCore
import DroverProto
import DroverTestKit
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import NIOCore
import Testing

/// The scheduler's Unix socket (`drover scheduler --unix-socket`, addresses `unix:PATH`): the
/// streams and gRPC of its port for this host's processes, TLS checked against `localhost`, a
/// socket file that is never taken from a live scheduler and goes with its own, and
/// `LocalCluster`'s default.
@Suite(.timeLimit(.minutes(1))) struct UnixSocketTests {
    /// A directory only this user can enter, and a socket path in it.
    static func socketPath() throws -> (PrivateDirectory, String) {
        let directory = try PrivateDirectory(prefix: "drover-test-unix")
        return (directory, directory.path + "/scheduler.sock")
    }

    @Test func workersAndAClientReachTheSchedulerOverItsUnixSocket() async throws {
        let (directory, path) = try Self.socketPath()
        defer { directory.remove() }
        let cluster = try await LocalTestCluster(workers: 2, unixSocket: path)
        defer { cluster.stop() }
        let client = try await Client.connect("unix:" + path, setAsDefault: false)
        try await client.waitForWorkers(2)
        // A future made on one worker and used on the other, and a map gathered.
        let onFirst = try client.submit(Builtins.noop, 41, workers: ["w0"])
        let onSecond = try client.submit(Builtins.add, onFirst, 1, workers: ["w1"])
        #expect(try await onSecond.result() == 42)
        #expect(try await client.gather(try client.map(Builtins.noop, Array(0..<200))) == Array(0..<200))
        // gRPC through the same socket (the front joins it to the scheduler's gRPC server).
        #expect(try await Self.workers(at: path, of: cluster.scheduler) == 2)
        // Garbage on the socket ends only its own connection.
        let garbage = try await Self.rawExchange(path, bytes: Array(repeating: 0xFF, count: 64))
        #expect(garbage.closed)
        #expect(try await client.submit(Builtins.add, 2, 3).result() == 5)
        await client.close()
    }

    @Test func overTLSTheCertificatesAreCheckedAsOverTCP() async throws {
        let (directory, path) = try Self.socketPath()
        defer { directory.remove() }
        let security = try Security.temporary()
        let certificates = try #require(security.certificateDirectory)
        defer { try? FileManager.default.removeItem(atPath: certificates.path) }
        let cluster = try await LocalTestCluster(workers: 1, certificates: certificates, unixSocket: path)
        defer { cluster.stop() }
        let client = try await Client.connect(
            "unix:" + path, security: certificates.security(for: .client), setAsDefault: false)
        try await client.waitForWorkers(1)
        #expect(try await client.submit(Builtins.add, 1, 2).result() == 3)
        await client.close()

        let plaintext = try await Client.connect("unix:" + path, setAsDefault: false)
        let refused = try await #require(throws: ClientError.self) { try await plaintext.waitForWorkers(1) }
        #expect(refused.message.contains("requires TLS"), "\(refused.message)")
        await plaintext.close()

        // Another CA's certificate is refused over the socket as over the port.
        let stranger = try Security.temporary()
        defer { stranger.certificateDirectory.map { try? FileManager.default.removeItem(atPath: $0.path) } }
        let foreign = try await Client.connect("unix:" + path, security: stranger, setAsDefault: false)
        await #expect(throws: ClientError.self) { try await foreign.waitForWorkers(1) }
        await foreign.close()
    }

    @Test func aStaleSocketIsReplacedALiveOneIsNotAndTheSocketGoesWithItsScheduler() async throws {
        let (directory, path) = try Self.socketPath()
        defer { directory.remove() }
        // A socket file no one listens on: what a killed scheduler leaves.
        close(try UnixSocket.bound(at: path, listening: true))
        let first = try ProcessHarness(
            TestBinaries.testTasks, ["scheduler", "--port", "0", "--no-dashboard", "--unix-socket", path],
            name: "scheduler")
        defer { first.stop() }
        _ = try await first.listeningAddress()
        #expect(try await Self.workers(at: path, of: first) == 0)

        let second = try ProcessHarness(
            TestBinaries.testTasks, ["scheduler", "--port", "0", "--no-dashboard", "--unix-socket", path],
            name: "second-scheduler")
        defer { second.stop() }
        await #expect(throws: HarnessError.self) { try await second.listeningAddress() }
        #expect(second.log().contains("Another process listens on the Unix socket \(path)"), "\(second.log())")
        // The first still answers there.
        #expect(try await Self.workers(at: path, of: first) == 0)

        #expect(await first.terminate().graceful)
        #expect(!FileManager.default.fileExists(atPath: path), "the scheduler removes its socket when it stops")
    }

    @Test func aFileThatIsNotASocketIsLeftAlone() async throws {
        let (directory, path) = try Self.socketPath()
        defer { directory.remove() }
        #expect(FileManager.default.createFile(atPath: path, contents: Data("keep".utf8)))
        let scheduler = try ProcessHarness(
            TestBinaries.testTasks, ["scheduler", "--port", "0", "--no-dashboard", "--unix-socket", path],
            name: "scheduler")
        defer { scheduler.stop() }
        await #expect(throws: HarnessError.self) { try await scheduler.listeningAddress() }
        #expect(scheduler.log().contains("could not listen"), "\(scheduler.log())")
        #expect(FileManager.default.contents(atPath: path) == Data("keep".utf8))
    }

    @Test func badUnixAddressesAreRefusedWithTheirReason() async throws {
        for address in ["unix:relative/path", "unix:", "unix:/" + String(repeating: "a", count: 200)] {
            let error = try await #require(throws: ClientError.self) {
                _ = try await Client.connect(address, setAsDefault: false)
            }
            #expect(error.message.contains("host:port or unix:PATH"), "\(address): \(error.message)")
        }
        let scheduler = try ProcessHarness(
            TestBinaries.testTasks, ["scheduler", "--port", "0", "--no-dashboard", "--unix-socket", "relative.sock"],
            name: "scheduler")
        defer { scheduler.stop() }
        await #expect(throws: HarnessError.self) { try await scheduler.listeningAddress() }
        #expect(scheduler.log().contains("--unix-socket must be an absolute path"), "\(scheduler.log())")
    }

    @Test(arguments: LocalCluster.Transport.allCases)
    func aLocalClustersNannyDialsTheTransportAsked(transport: LocalCluster.Transport) async throws {
        let cluster = try await LocalCluster(
            workers: 1, threadsPerWorker: 1, memoryLimit: "0", dashboard: false, executable: TestBinaries.testTasks,
            insecurePlaintext: true, transport: transport)
        defer { cluster.close() }
        let client = try await Client.connect(cluster.preferredAddress, setAsDefault: false)
        try await client.waitForWorkers(1)
        #expect(try await client.submit(Builtins.add, 1, 2).result() == 3)
        await client.close()
        let endpoint = try #require(HostAndPort(cluster.nannyAddress))
        let status = try await withGRPCClient(transport: try Transports.makeClient(to: endpoint)) {
            try await Drover_V1_Nanny.Client(wrapping: $0).status(.init())
        }
        switch transport {
        case .unix:
            let unixAddress = try #require(cluster.unixAddress)
            #expect(status.scheduler == unixAddress)
            let socketDirectory = URL(fileURLWithPath: String(unixAddress.dropFirst("unix:".count)))
                .deletingLastPathComponent().path
            let mode = try FileManager.default.attributesOfItem(atPath: socketDirectory)[.posixPermissions] as? Int
            #expect(mode == 0o700, "only this user may enter the socket's directory")
            // What a killed program's cluster leaves: its directory and a socket no one listens on.
            let abandoned = try PrivateDirectory(prefix: "drover-local-socket")
            defer { abandoned.remove() }
            close(try UnixSocket.bound(at: abandoned.path + "/scheduler.sock", listening: false))
            var old = [timeval(tv_sec: time(nil) - 120, tv_usec: 0), timeval(tv_sec: time(nil) - 120, tv_usec: 0)]
            #expect(utimes(abandoned.path, &old) == 0)
            await cluster.stop()
            #expect(!FileManager.default.fileExists(atPath: socketDirectory), "the directory goes with the cluster")
            #expect(!FileManager.default.fileExists(atPath: abandoned.path), "closing sweeps a killed program's")
        case .tcp:
            #expect(cluster.unixAddress == nil)
            #expect(status.scheduler == cluster.address)
        }
    }

    /// The number of workers the scheduler at the Unix socket `path` reports; its log when it
    /// does not answer. A deadline, not a promise of speed: with the whole suite running on two
    /// cores this call took 0.4-7.4 s, and the same call over TCP 5.4-7.6 s (0.03 s on a quiet
    /// machine, 0.04-0.12 s beside four busy loops): the test process's own threads are busy.
    static func workers(at path: String, of scheduler: ProcessHarness) async throws -> Int {
        do {
            return try await ClusterStatus.fetch(
                from: "unix:" + path, security: .insecurePlaintext, timeout: .seconds(20)
            ).workers.count
        } catch {
            Issue.record("the scheduler at unix:\(path) did not answer (\(error)); its log:\n\(scheduler.log())")
            throw error
        }
    }

    /// Sends `bytes` on a connection to the Unix socket at `path` and reads until the server
    /// closes it (or 30 s pass).
    static func rawExchange(_ path: String, bytes: [UInt8]) async throws -> (received: Int, closed: Bool) {
        try await WireTests.rawExchange(to: try NIOCore.SocketAddress(unixDomainSocketPath: path), bytes: bytes)
    }
}
