import DroverClient
import DroverCore
import DroverLocal
import DroverProto
import DroverTestKit
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import SwiftProtobuf
import Testing

/// The client's calls beyond submit/gather, and bad input on the workers' port, against real
/// `drover scheduler` / `drover worker` processes.
///
/// Every client here but one is connected with `setAsDefault: false`: tests run side by side in
/// one process, and only `aConnectedClientIsTheDefaultForCompute` may change the default.
@Suite(.timeLimit(.minutes(1))) struct ClientAPITests {
    @Test func scatteredValuesAreArgumentsOnAnyWorkerAndFreedWhenDropped() async throws {
        let cluster = try await LocalTestCluster(workers: 2)
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        try await client.waitForWorkers(2)
        var scattered: [Future<[Int]>]? = try await client.scatter(
            each: [[1, 2, 3], [10, 20]], workers: [cluster.workerAddresses[0]])
        #expect(try await scattered![1].result() == [10, 20])
        // Used on the other worker: it fetches the values from the first.
        var total: Future<Int>? = try client.submit(Builtins.sum, scattered![0], workers: ["w1"])
        #expect(try await total!.result() == 6)
        try await eventually(client) { $0.workers.first { $0.id == "w0" }?.held == 2 }
        total = nil
        scattered = nil
        try await eventually(client) { status in status.tasks == 0 && status.workers.allSatisfy { $0.held == 0 } }
        await client.close()
    }

    @Test func aCancelledFutureSaysSoAndTheClusterDropsItsTask() async throws {
        let cluster = try await LocalTestCluster(workers: 1, threads: 2)
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        let slow = try client.submit(Builtins.sleep, 30.0)
        #expect(slow.status == .pending)
        #expect(!slow.isDone)
        slow.cancel()
        #expect(slow.status == .cancelled)
        #expect(slow.isDone)
        await #expect(throws: CancelledError.self) { try await slow.result() }
        try await eventually(client) { $0.tasks == 0 }
        // The other thread still serves.
        #expect(try await client.submit(Builtins.plus, 2, 3).result() == 5)
        await client.close()
    }

    @Test func asCompletedFollowsCompletionAndWaitReportsWhatIsDone() async throws {
        let cluster = try await LocalTestCluster(workers: 2)
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        // A chain: each needs the one before, so they can only finish in this order.
        let first = try client.submit(Builtins.noop, 1)
        let second = try client.submit(Builtins.plus, first, 1)
        let third = try client.submit(Builtins.plus, second, 1)
        var order: [TaskKey] = []
        for await future in client.asCompleted([third, second, first]) { order.append(future.key) }
        #expect(order == [first.key, second.key, third.key])

        // Many futures, two of them for one (pure) key: each comes out once, none is lost.
        let many = try client.map(Builtins.noop, Array(0..<2000) + [0])
        var count = 0
        for await _ in client.asCompleted(many) { count += 1 }
        #expect(count == 2001)
        let (allDone, _) = try await client.wait(many)
        #expect(allDone.count == 2001)

        let failing = try client.submit(Remote.fail, 3)
        let (done, notDone) = try await client.wait([third, failing])
        #expect(done.map(\.key) == [third.key, failing.key])
        #expect(notDone.isEmpty)
        #expect(third.status == .finished)
        #expect(failing.status == .error)

        let slow = try client.submit(Remote.blockingSleep, 30_000)
        await #expect(throws: TimeoutError.self) { try await client.wait([slow], timeout: .milliseconds(50)) }
        let firstDone = try await client.wait([slow, third], returnWhen: .firstCompleted)
        #expect(firstDone.done.map(\.key) == [third.key])
        #expect(firstDone.notDone.map(\.key) == [slow.key])
        await client.close()
    }

    @Test func aConnectedClientIsTheDefaultForCompute() async throws {
        let cluster = try await LocalTestCluster(workers: 1)
        defer { cluster.stop() }
        // `test-pid` exists only in the workers' binary: computed here, it throws.
        let processID = TaskFunction("test-pid") { (_: Int) throws -> Int in throw Remote.NotHere() }
        let graph = Builtins.sum.delayed([processID.delayed(0), Builtins.noop.delayed(0)])
        let client = try await Client.connect(cluster.address)
        let pid = try await graph.compute()
        #expect(pid != Int(getpid()))
        #expect(pid == Int(cluster.workers[0].pid))
        // A scheduler named in the call still wins.
        await #expect(throws: TaskError.self) { try await graph.compute(scheduler: .singleThreaded) }
        await client.close()
        #expect(Drover.defaultCluster == nil)
    }

    @Test func anArgumentOfTheWrongTypeIsABadArgumentError() async throws {
        let cluster = try await LocalTestCluster(workers: 1)
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        // The workers' `noop` takes an Int; this one claims the name with a String.
        let impostor = TaskFunction("noop") { (text: String) -> String in text }
        let error = try await #require(throws: TaskError.self) { try await client.submit(impostor, "seven").result() }
        #expect(error.kind == .badArgument)
        #expect(error.function == "noop")
        #expect(try await client.submit(Builtins.noop, 7).result() == 7)
        await client.close()
    }

    @Test func tooLargeArgumentsAreRefusedBeforeTheyAreSent() async throws {
        let cluster = try await LocalTestCluster(workers: 1)
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, setAsDefault: false, maxArgumentBytes: 1 << 20)
        try await client.waitForWorkers(1)
        let large = [UInt8](repeating: 1, count: 3 << 20)
        let error = try #require(throws: ClientError.self) { try client.submit(Builtins.countBytes, large) }
        #expect(error.message.contains("scatter"))
        // Scattered instead (in chunks of 1 MiB), it works.
        let data = try await client.scatter(large)  // one value: the whole array
        #expect(try await client.submit(Builtins.countBytes, data).result() == 3 << 20)
        await client.close()
    }

    @Test func aGatherOfManyKeysIsCutIntoRequestsUnderTheWorkersLimit() async throws {
        let cluster = try await LocalTestCluster(workers: 1)
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        try await client.waitForWorkers(1)
        let futures = try await client.scatter(each: Array(0..<300))
        let connections = PeerConnections()
        // Requests of at most 64 bytes of keys: dozens of them, one value each or two.
        let values = try await DataFetch.fetch(
            futures.map(\.key), from: cluster.workerAddresses[0], connections: connections, maxRequestKeyBytes: 64)
        #expect(values.count == 300)
        #expect(try futures.map { try Int.decode(payload: values[$0.key]!) } == Array(0..<300))
        await connections.close()
        await client.close()
    }

    @Test func badInputOnAWorkersPortIsRefusedAndTheWorkerKeepsServing() async throws {
        let cluster = try await LocalTestCluster(workers: 1)
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        let futures = try client.map(Builtins.sleep, Array(repeating: 0.01, count: 50))
        let worker = try #require(HostAndPort(cluster.workerAddresses[0]))
        // Bytes that are no protocol at all.
        try sendGarbage(host: worker.host, port: worker.port)
        // A message over the worker's limit.
        let error = try await #require(throws: RPCError.self) {
            try await withGRPCClient(
                transport: try Transports.makeClient(to: worker)
            ) { grpc in
                var options = CallOptions.defaults
                options.maxRequestMessageBytes = 64 << 20
                _ = try await Drover_V1_Worker.Client(wrapping: grpc).putData(
                    options: options,
                    requestProducer: { writer in
                        let chunk = Drover_V1_DataChunk.with {
                            $0.key = "oversize"
                            $0.data = Data(count: TransportLimits.maxWorkerMessageBytes + 1)
                            $0.last = true
                        }
                        try await writer.write(.with { $0.chunks = [chunk] })
                    })
            }
        }
        // The worker refuses it with a status naming its limit, and logs it.
        #expect(error.code == .resourceExhausted)
        #expect(error.message.contains("limit of \(TransportLimits.maxWorkerMessageBytes) bytes"))
        let log = try String(contentsOfFile: cluster.workers[0].logPath, encoding: .utf8)
        #expect(log.contains("refused an oversize PutData message"))
        // A malformed stream of chunks: a value interrupted by another key.
        let malformed = try await #require(throws: RPCError.self) {
            try await withGRPCClient(
                transport: try Transports.makeClient(to: worker)
            ) { grpc in
                _ = try await Drover_V1_Worker.Client(wrapping: grpc).putData(requestProducer: { writer in
                    try await writer.write(
                        .with {
                            $0.chunks = [
                                .with {
                                    $0.key = "a"
                                    $0.data = Data([1])
                                },
                                .with {
                                    $0.key = "b"
                                    $0.data = Data([2])
                                    $0.last = true
                                },
                            ]
                        })
                })
            }
        }
        #expect(malformed.code == .invalidArgument)
        #expect(malformed.message.contains("arrived in the middle of"))
        #expect(try await client.gather(futures).count == 50)
        await client.close()
    }
}
