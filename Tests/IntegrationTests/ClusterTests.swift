import DroverClient
import DroverCore
import DroverProto
import DroverTestKit
import Foundation
import Testing

/// Functions that exist in `drover-test-tasks` only by name here.
enum Remote {
    struct NotHere: Error {}
    static let unknown = TaskFunction("no-such-function") { (_: Int) throws -> Int in throw NotHere() }
    static let fail = TaskFunction("test-fail") { (_: Int) throws -> Int in throw NotHere() }
    static let refuse = TaskFunction("test-refuse") { (_: Int) throws -> Int in throw NotHere() }
    static let blockingSleep = TaskFunction("test-blocking-sleep") { (_: Int) throws -> Int in throw NotHere() }
    /// The same type as `drover-test-tasks`' `TestTasks.Refusal` (a value's type name is its own name).
    struct Refusal: Error, Codable, Equatable, TaskValue {
        var reason: String
        var code: Int
    }
    struct NotHereValue: Error, Codable, TaskValue {}
}

/// A scheduler and workers as real processes on loopback, torn down after each test.
final class LocalTestCluster: Sendable {
    let scheduler: ProcessHarness
    let workers: [ProcessHarness]
    let address: String
    let workerAddresses: [String]

    /// A scheduler and `count` workers without nannies; with `certificates`, each process uses
    /// its role's certificate from there (mutual TLS). `workerEnvironment` is added to the
    /// workers' environment and `workerArguments` to their command lines. With `unixSocket` the
    /// scheduler listens there too and the workers dial it (`unix:PATH`).
    init(
        workers count: Int, threads: Int = 2, schedulerArguments: [String] = [],
        certificates: CertificateDirectory? = nil, workerEnvironment: [String: String] = [:],
        workerArguments: [String] = [], unixSocket: String? = nil
    ) async throws {
        let binary = TestBinaries.testTasks
        let schedulerTLS = certificates?.security(for: .scheduler).arguments ?? []
        let workerTLS = certificates?.security(for: .worker).arguments ?? []
        scheduler = try ProcessHarness(
            binary,
            ["scheduler", "--port", "0", "--no-dashboard"] + (unixSocket.map { ["--unix-socket", $0] } ?? [])
                + schedulerArguments + schedulerTLS,
            name: "scheduler")
        address = try await scheduler.listeningAddress()
        let workersDial = unixSocket.map { "unix:" + $0 } ?? address
        var workers: [ProcessHarness] = []
        var addresses: [String] = []
        for number in 0..<count {
            let worker = try ProcessHarness(
                binary,
                [
                    "worker", workersDial, "--no-nanny", "--nthreads", String(threads), "--name", "w\(number)",
                    "--log-level", "debug",
                ] + workerArguments + workerTLS,
                environment: ProcessInfo.processInfo.environment.merging(workerEnvironment) { $1 },
                name: "worker-\(number)"
            )
            addresses.append(try await worker.listeningAddress())
            workers.append(worker)
        }
        self.workers = workers
        self.workerAddresses = addresses
    }

    func stop() {
        for worker in workers { worker.stop() }
        scheduler.stop()
    }
}

@Suite(.timeLimit(.minutes(1))) struct ClusterTests {
    @Test func submitResultMapGatherAndFuturesAcrossWorkers() async throws {
        let cluster = try await LocalTestCluster(workers: 2)
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        let sum = try client.submit(Builtins.add, 1, 2)
        #expect(try await sum.result() == 3)

        let futures = try client.map(Builtins.noop, Array(0..<20))
        #expect(try await client.gather(futures) == Array(0..<20))

        // A future as an argument, produced on one worker and consumed on the other.
        let onFirst = try client.submit(Builtins.noop, 41, workers: ["w0"])
        let onSecond = try client.submit(Builtins.add, onFirst, 1, workers: ["w1"])
        #expect(try await onSecond.result() == 42)

        // The tutorial's exercise with futures.
        var output: [Future<Int>] = []
        for x in 0..<10 {
            let a = try client.submit(Builtins.noop, x + 1)
            let b = try client.submit(Builtins.noop, 2 * x)
            output.append(try client.submit(Builtins.add, a, b))
        }
        #expect(try await client.submit(Builtins.sum, output).result() == 145)
        await client.close()
    }

    @Test func taskErrorsAndUnknownFunctionsReachTheClient() async throws {
        let cluster = try await LocalTestCluster(workers: 1)
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        let failing = try client.submit(Remote.fail, 7)
        let dependent = try client.submit(Builtins.add, failing, 1)
        let error = try await #require(throws: TaskError.self) { try await dependent.result() }
        #expect(error.kind == .failed)
        #expect(error.function == "test-fail")
        #expect(error.message == "boom on 7")
        #expect(error.errorType == "drover_test_tasks.TestTasks.Boom")
        #expect(error.errorValue == nil)

        // An error that is a task value arrives whole: the program can act on it.
        let refused = try await #require(throws: TaskError.self) { try await client.submit(Remote.refuse, 42).result() }
        #expect(refused.errorType == "drover_test_tasks.TestTasks.Refusal")
        #expect(refused.error(as: Remote.Refusal.self) == Remote.Refusal(reason: "refused", code: 42))
        #expect(refused.error(as: Remote.NotHereValue.self) == nil)

        let unknown = try await #require(throws: TaskError.self) { try await client.submit(Remote.unknown, 1).result() }
        #expect(unknown.kind == .unknownFunction)
        #expect(unknown.message.contains("no function named 'no-such-function'"))
        #expect(unknown.message.contains("register it (`registry.register(no-such-function)`)"))
        // The cluster keeps serving.
        #expect(try await client.submit(Builtins.add, 2, 2).result() == 4)
        await client.close()
    }
}

/// Waits (without sleeping on a guess) until `condition` holds for the cluster's status, asking
/// the scheduler again after each answer; fails after `attempts` answers.
func eventually(
    _ client: Client,
    attempts: Int = 200,
    _ condition: (ClusterStatus) -> Bool,
    sourceLocation: SourceLocation = #_sourceLocation
) async throws {
    var last: ClusterStatus?
    for _ in 0..<attempts {
        let status = try await client.status()
        if condition(status) { return }
        last = status
        try await Task.sleep(for: .milliseconds(25))
    }
    Issue.record(
        "the cluster never reached the expected state; last: \(String(describing: last))",
        sourceLocation: sourceLocation)
}

@Suite(.timeLimit(.minutes(1))) struct ClusterFailureTests {
    @Test func droppingTheLastFutureFreesTheResultOnItsWorker() async throws {
        let cluster = try await LocalTestCluster(workers: 1)
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        var future: Future<Int>? = try client.submit(Builtins.noop, 5)
        #expect(try await future!.result() == 5)
        try await eventually(client) { $0.workers.first?.held == 1 && $0.tasks == 1 }
        future = nil
        try await eventually(client) { $0.workers.first?.held == 0 && $0.tasks == 0 }
        await client.close()
    }

    @Test func aClientThatGoesAwayReleasesItsKeys() async throws {
        let cluster = try await LocalTestCluster(workers: 1)
        defer { cluster.stop() }
        let observer = try await Client.connect(cluster.address, setAsDefault: false)
        var client: Client? = try await Client.connect(cluster.address, setAsDefault: false)
        let futures = try client!.map(Builtins.noop, Array(0..<10))
        _ = try await client!.gather(futures)
        try await eventually(observer) { $0.tasks == 10 }
        await client!.close()
        client = nil
        try await eventually(observer) { $0.tasks == 0 && $0.workers.first?.held == 0 }
        withExtendedLifetime(futures) {}
        await observer.close()
    }

    /// Workers that share memory tell the scheduler their host (placement weighs it); one with
    /// sharing off says nothing.
    @Test func workersThatShareMemoryRegisterTheirHost() async throws {
        let sharing = try await LocalTestCluster(workers: 1)
        defer { sharing.stop() }
        let private_ = try await LocalTestCluster(workers: 1, workerEnvironment: ["DROVER_SHARED_MEMORY": "off"])
        defer { private_.stop() }
        for cluster in [sharing, private_] {  // the workers have registered once a client sees them
            let client = try await Client.connect(cluster.address, setAsDefault: false)
            try await client.waitForWorkers(1)
            await client.close()
        }
        let host = try #require(
            sharing.scheduler.log().split(separator: "\n").first { $0.contains("worker joined") }?
                .split(separator: " ").first { $0.hasPrefix("worker.host=") })
        #expect(host.count > "worker.host=".count)
        let none = try #require(
            private_.scheduler.log().split(separator: "\n").first { $0.contains("worker joined") }?
                .split(separator: " ").first { $0.hasPrefix("worker.host=") })
        #expect(none == "worker.host=")
    }

    @Test func aLargeSubmissionGoesInPartsAndLosesNothing() async throws {
        let cluster = try await LocalTestCluster(workers: 2)
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        // More tasks than one part holds; the last part has a task the scheduler rejects on its
        // own (a key over its 4,096-byte limit).
        let count = 3 * 1024 + 5
        var values = (0..<count - 1).map { Builtins.noop.delayed($0) }
        values.append(Builtins.noop.delayed(7, key: TaskKey(String(repeating: "k", count: 5000))))
        var futures: [Future<Int>]? = try client.submit(values)
        let results = await withTaskGroup(of: (Int, Result<Int, any Error>).self) { group in
            for (index, future) in futures!.enumerated() {
                group.addTask {
                    do { return (index, .success(try await future.result())) } catch { return (index, .failure(error)) }
                }
            }
            return await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        for index in 0..<count - 1 { #expect((try? results[index]?.get()) == index, "task \(index)") }
        let rejected = #expect(throws: TaskError.self) { try results[count - 1]!.get() }
        #expect(rejected?.message.contains("over the limit") == true, "\(String(describing: rejected))")
        // Every part's tasks are released with their futures.
        futures = nil
        try await eventually(client) { $0.tasks == 0 }
    }

    @Test func aWorkerKilledMidGraphLosesNoResult() async throws {
        let cluster = try await LocalTestCluster(workers: 3)
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        // 2,000 tasks: 1,000 leaves and 1,000 sums of two neighbouring leaves (no sleeps).
        let values = try client.map(Builtins.noop, Array(0..<1000))
        var sums: [Future<Int>] = []
        for index in 0..<1000 {
            sums.append(try client.submit(Builtins.sum, [values[index], values[(index + 1) % 1000]]))
        }
        // Kill the worker holding the most results once one holds some (which one that is, and
        // whether work is still queued then, depends on placement and speed: the results it held
        // are lost either way, and must be recomputed from lineage).
        try await eventually(client) { status in status.workers.contains { $0.held > 20 } }
        let holders = try await client.status().workers
        let victim = try #require(holders.max { $0.held < $1.held }).id
        let index = try #require(Int(victim.rawValue.dropFirst()))
        cluster.workers[index].signal(SIGKILL)
        let results = try await client.gather(sums)
        #expect(results == (0..<1000).map { $0 + ($0 + 1) % 1000 })
        let status = try await client.status()
        #expect(!status.workers.contains { $0.id == victim })
        await client.close()
    }

    @Test func aTaskThatKillsItsWorkersThreeTimesIsKilledWorker() async throws {
        let binary = TestBinaries.testTasks
        let scheduler = try ProcessHarness(binary, ["scheduler", "--port", "0"], name: "scheduler")
        defer { scheduler.stop() }
        let address = try await scheduler.listeningAddress()
        let client = try await Client.connect(address, setAsDefault: false)
        let crash = TaskFunction("test-crash") { (_: Int) throws -> Int in throw Remote.NotHere() }
        let future = try client.submit(crash, Int(SIGKILL))
        var killed: [ProcessHarness] = []
        for number in 0..<3 {
            let worker = try ProcessHarness(
                binary, ["worker", address, "--no-nanny", "--name", "doomed-\(number)"], name: "doomed-\(number)")
            _ = try await worker.listeningAddress()
            killed.append(worker)
            // The worker dies running the task; wait for the scheduler to notice before the next.
            try await eventually(client) { status in !status.workers.contains { $0.id.rawValue == "doomed-\(number)" } }
        }
        let error = try await #require(throws: TaskError.self) { try await future.result() }
        #expect(error.kind == .killedWorker)
        #expect(error.message.contains("3 times"))
        #expect(error.message.contains("Deaths: doomed-0 ("))
        #expect(error.message.contains("doomed-2"))
        for worker in killed { worker.stop() }
        await client.close()
    }

    @Test func workersReconnectToARestartedScheduler() async throws {
        let binary = TestBinaries.testTasks
        var scheduler = try ProcessHarness(binary, ["scheduler", "--port", "0"], name: "scheduler")
        let address = try await scheduler.listeningAddress()
        let port = String(address.split(separator: ":").last!)
        let worker = try ProcessHarness(
            binary, ["worker", address, "--no-nanny", "--name", "survivor"], name: "worker")
        defer { worker.stop() }
        _ = try await worker.listeningAddress()
        scheduler.stop()
        scheduler = try ProcessHarness(binary, ["scheduler", "--port", port], name: "scheduler-again")
        defer { scheduler.stop() }
        _ = try await scheduler.listeningAddress()
        let client = try await Client.connect(address, setAsDefault: false)
        try await eventually(client) { $0.workers.map(\.id) == ["survivor"] }
        #expect(try await client.submit(Builtins.add, 20, 22).result() == 42)
        await client.close()
    }

    @Test func garbageOnTheSchedulerPortDoesNotStopAComputation() async throws {
        let cluster = try await LocalTestCluster(workers: 1)
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        let futures = try client.map(Builtins.sleep, Array(repeating: 0.01, count: 50))
        // Raw bytes that are not HTTP/2, on a plain TCP connection to the scheduler's port.
        let parts = cluster.address.split(separator: ":")
        try sendGarbage(host: String(parts[0]), port: Int(parts[1])!)
        #expect(try await client.gather(futures).count == 50)
        #expect(try await client.submit(Builtins.add, 1, 1).result() == 2)
        await client.close()
    }
}

/// Opens a TCP connection and writes bytes that are no protocol at all.
func sendGarbage(host: String, port: Int) throws {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw HarnessError(description: "socket failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    inet_pton(AF_INET, host, &address.sin_addr)
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard connected == 0 else { throw HarnessError(description: "connect failed") }
    let garbage = [UInt8](repeating: 0xFF, count: 4096) + Array("GET / HTTP/1.1\r\n\r\n".utf8)
    _ = garbage.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
}
