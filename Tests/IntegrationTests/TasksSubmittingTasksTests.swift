import DroverClient
import DroverCore
import DroverProto
import DroverTestKit
import Testing

/// Tasks that submit tasks (Dask's `get_worker`, `worker_client`, `secede`/`rejoin`), on a real
/// cluster of `drover-test-tasks` processes whose only worker has one thread.
@Suite(.timeLimit(.minutes(1))) struct TasksSubmittingTasksTests {
    // Stand-ins with the names the worker runs (Sources/drover-test-tasks/TestTasks+Secede.swift).
    static let fanOut = TaskFunction("test-fan-out") { (_: Int) -> Int in 0 }
    static let waitForEvent = TaskFunction("test-wait-for-event") { (_: String) -> Int in 0 }
    static let setEvent = TaskFunction("test-set-event") { (_: String) -> Int in 0 }
    static let whereAmI = TaskFunction("test-where-am-i") { (_: Int) -> [String] in [] }

    /// The test: one worker of one thread, a task submits 100 tasks and gathers them.
    /// Without seceding, the parent would hold the only thread its children need.
    @Test func aTaskOnAOneThreadWorkerSubmitsAndGathers100Tasks() async throws {
        let cluster = try await LocalTestCluster(workers: 1, threads: 1)
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        #expect(try await client.submit(Self.fanOut, 100).result() == 5050)
        // Twice in a row: the worker's client is made once and reused.
        #expect(try await client.submit(Self.fanOut, 10).result() == 55)
        #expect(cluster.workers[0].log().contains("task seceded"))
        await client.close()
    }

    /// A seceded task lets another task run on the one thread meanwhile: the waiter returns only
    /// once the setter, submitted after it, has run (else the waiter's own 30 s timeout fails it).
    @Test func aSecededTaskLetsAnotherTaskRunMeanwhile() async throws {
        let cluster = try await LocalTestCluster(workers: 1, threads: 1)
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        try await client.waitForWorkers(1)
        let waiter = try client.submit(Self.waitForEvent, "go", pure: false)
        let setter = try client.submit(Self.setEvent, "go", pure: false)
        #expect(try await setter.result() == 2)
        #expect(try await waiter.result() == 1)
        await client.close()
    }

    /// `WorkerContext.current` inside a task names the worker running it (Dask's `get_worker()`).
    @Test func theWorkerContextNamesTheWorkerRunningTheTask() async throws {
        let cluster = try await LocalTestCluster(workers: 1, threads: 1)
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        let identity = try await client.submit(Self.whereAmI, 0).result()
        #expect(identity == ["w0", "w0", cluster.workerAddresses[0]])
        await client.close()
    }
}

/// With mutual TLS, a task's client connects with its worker's certificate, which the scheduler
/// lets open a client stream (the role table's `Scheduler.ClientStream`: client or worker).
@Suite(.timeLimit(.minutes(1))) struct TasksSubmittingTasksOverTLSTests {
    @Test func aTaskSubmitsTasksWithItsWorkersCertificate() async throws {
        let security = try Security.temporary()
        let certificates = try #require(security.certificateDirectory)
        let cluster = try await LocalTestCluster(workers: 1, threads: 1, certificates: certificates)
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, security: security, setAsDefault: false)
        #expect(try await client.submit(TasksSubmittingTasksTests.fanOut, 20).result() == 210)
        await client.close()
    }
}
