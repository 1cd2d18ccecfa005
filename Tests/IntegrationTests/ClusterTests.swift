import DroverClient
import DroverCore
import DroverTestKit
import Foundation
import Testing

/// Functions that exist in `drover-test-tasks` only by name here.
enum Remote {
    struct NotHere: Error {}
    static let unknown = TaskFunction("no-such-function") { (_: Int) throws -> Int in throw NotHere() }
    static let fail = TaskFunction("test-fail") { (_: Int) throws -> Int in throw NotHere() }
}

/// A scheduler and workers as real processes on loopback, torn down after each test.
final class LocalTestCluster: Sendable {
    let scheduler: ProcessHarness
    let workers: [ProcessHarness]
    let address: String
    let workerAddresses: [String]

    init(workers count: Int, threads: Int = 2) async throws {
        let binary = TestBinaries.testTasks
        scheduler = try ProcessHarness(binary, ["scheduler", "--port", "0"], name: "scheduler")
        address = try await scheduler.listeningAddress()
        var workers: [ProcessHarness] = []
        var addresses: [String] = []
        for number in 0..<count {
            let worker = try ProcessHarness(
                binary, ["worker", address, "--nthreads", String(threads), "--name", "w\(number)"],
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
        let client = try await Client.connect(cluster.address)
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
        let client = try await Client.connect(cluster.address)
        let failing = try client.submit(Remote.fail, 7)
        let dependent = try client.submit(Builtins.add, failing, 1)
        let error = try await #require(throws: TaskError.self) { try await dependent.result() }
        #expect(error.kind == .failed)
        #expect(error.function == "test-fail")
        #expect(error.message == "boom on 7")

        let unknown = try await #require(throws: TaskError.self) { try await client.submit(Remote.unknown, 1).result() }
        #expect(unknown.kind == .unknownFunction)
        #expect(unknown.message.contains("no function named 'no-such-function'"))
        // The cluster keeps serving.
        #expect(try await client.submit(Builtins.add, 2, 2).result() == 4)
        await client.close()
    }
}
