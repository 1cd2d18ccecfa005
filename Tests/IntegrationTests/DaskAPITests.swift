import DroverClient
import DroverCore
import DroverLocal
import DroverTestKit
import Foundation
import Testing

/// The parts of Dask's client API beyond submit and gather, each on a real cluster
/// (`drover-test-tasks` scheduler and workers).
@Suite(.timeLimit(.minutes(1))) struct DaskAPITests {
    static let touch = TaskFunction("test-touch") { (_: String, _: Int) -> Int in 0 }
    static let processID = TaskFunction("test-pid") { (_: Int) -> Int in 0 }

    @Test func computeAndPersistReturnFuturesAtOnce() async throws {
        let cluster = try await LocalTestCluster(workers: 2)
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        let parts = (0..<4).map { Builtins.plus.delayed($0, 1) }
        let total = Builtins.sum.delayed(parts)
        let future = try client.compute(total)
        #expect(future.key == total.key)
        #expect(try await future.result() == 10)
        // Persisted parts stay on the cluster; a graph built on them starts from them.
        let persisted = try client.persist(parts)
        #expect(try await client.gather(persisted) == [1, 2, 3, 4])
        let doubled = Builtins.sum.delayed(persisted.map { Builtins.plus.delayed($0, $0) })
        #expect(try await client.compute(doubled).result() == 20)
        await client.close()
    }

    @Test func descriptionsReadLikeDasks() async throws {
        let cluster = try await LocalTestCluster(workers: 2)
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        try await client.waitForWorkers(2)
        #expect(client.description == "<Client: '\(cluster.address)' workers=2>")
        let future = try client.submit(Builtins.plus, 1, 2)
        _ = try await future.result()
        #expect(future.description == "<Future: finished, type: Int, key: \(future.key)>")
        #expect(future.key.rawValue.hasPrefix("plus-"))
        await client.close()
    }

    @Test func whoHasAndHasWhatNameTheWorkersHoldingResults() async throws {
        let cluster = try await LocalTestCluster(workers: 2)
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        try await client.waitForWorkers(2)
        let futures = try client.map(Builtins.noop, Array(0..<6))
        _ = try await client.gather(futures)
        let whoHas = client.whoHas(futures)
        let workers = Set(client.workers)
        #expect(Set(whoHas.keys) == Set(futures.map(\.key)))
        for (key, holders) in whoHas {
            #expect(!holders.isEmpty && Set(holders).isSubset(of: workers), "\(key): \(holders)")
        }
        let hasWhat = client.hasWhat()
        #expect(Set(hasWhat.keys) == workers)
        #expect(Set(hasWhat.values.joined()) == Set(futures.map(\.key)))
        for (worker, keys) in hasWhat {
            for key in keys { #expect(whoHas[key]?.contains(worker) == true) }
        }
        await client.close()
    }

    @Test func runCallsTheFunctionOnEveryWorker() async throws {
        let cluster = try await LocalTestCluster(workers: 2)
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        try await client.waitForWorkers(2)
        let pids = try await client.run(Self.processID, 0)
        #expect(Set(pids.keys) == Set(client.workers))
        #expect(Set(pids.values) == Set(cluster.workers.map { Int($0.pid) }))
        await client.close()
    }

    @Test func aFiredAndForgottenTaskRunsWithoutItsFuture() async throws {
        let cluster = try await LocalTestCluster(workers: 1)
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("drover-fire-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        // The task waits for an input that takes a second (`inc`): without fireAndForget, dropping
        // its future releases it before it can start, and the file never appears.
        client.fireAndForget(try client.submit(Self.touch, path, try client.submit(Builtins.inc, 0)))
        var created = false
        for _ in 0..<500 where !created {
            try await Task.sleep(for: .milliseconds(20))
            created = FileManager.default.fileExists(atPath: path)
        }
        #expect(created, "the task never ran")
        await client.close()
    }

    @Test func aDelayedGraphIsDrawnAsDotText() throws {
        let parts = (0..<2).map { Builtins.plus.delayed($0, 1) }
        let total = Builtins.sum.delayed(parts)
        let dot = total.dot()
        #expect(dot.hasPrefix("digraph drover {\n    rankdir=BT;"))
        #expect(dot.components(separatedBy: "label=\"plus\"").count - 1 == 2)
        #expect(dot.components(separatedBy: "label=\"sum\"").count - 1 == 1)
        #expect(dot.components(separatedBy: " -> ").count - 1 == 2)
        #expect(dot.contains("tooltip=\"\(total.key)\""))
        do {
            let svg = try total.svg()
            #expect(svg.contains("<svg"))
        } catch let error as GraphvizError {
            // Without Graphviz the error says how to get it.
            #expect(error.description.contains("install graphviz"))
        }
    }

    /// `client.restart()` during a computation: its futures err saying so, the nanny starts fresh
    /// workers (new processes), and the cluster computes again.
    @Test func restartDuringAComputationErrsItsFuturesAndRestartsTheWorkers() async throws {
        let cluster = try await LocalCluster(
            workers: 2, threadsPerWorker: 1, memoryLimit: "0", dashboard: false, executable: TestBinaries.testTasks)
        defer { cluster.close() }
        let client = try await Client.connect(cluster.address, security: cluster.security, setAsDefault: false)
        try await client.waitForWorkers(2)
        let oldWorkers = Set(client.workers)
        let oldPIDs = Set(try await client.run(Self.processID, 0).values)
        let finished = try client.submit(Builtins.plus, 1, 2)
        #expect(try await finished.result() == 3)
        let running = try client.map(Builtins.sleep, Array(repeating: 30.0, count: 4), pure: false)

        try await client.restart()

        for future in running {
            let error = try await #require(throws: TaskError.self) { try await future.result() }
            #expect(error.kind == .workerDied)
            #expect(error.message.contains("the cluster was restarted"), "\(error.message)")
        }
        #expect(finished.status == .error)
        // Fresh workers register (new processes, new addresses) and compute again.
        var fresh: Set<String> = []
        for _ in 0..<1000 {
            fresh = Set(client.workers).subtracting(oldWorkers)
            if fresh.count == 2 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        try #require(fresh.count == 2, "workers after restart: \(client.workers), before: \(oldWorkers)")
        let newPIDs = Set(try await client.run(Self.processID, 0).values)
        #expect(newPIDs.isDisjoint(with: oldPIDs))
        #expect(try await client.submit(Builtins.plus, 2, 3).result() == 5)
        await client.close()
    }

    /// `client.shutdown()` of a cluster it did not start: the scheduler, the nanny and its workers
    /// all exit.
    @Test func shutdownStopsTheSchedulerTheNannyAndItsWorkers() async throws {
        let cluster = try await LocalCluster(
            workers: 2, threadsPerWorker: 1, memoryLimit: "0", dashboard: false, executable: TestBinaries.testTasks)
        defer { cluster.close() }
        let client = try await Client.connect(cluster.address, security: cluster.security, setAsDefault: false)
        try await client.waitForWorkers(2)
        let workers = try await client.run(Self.processID, 0).values.map { Int32($0) }
        await client.shutdown()
        for pid in [cluster.schedulerPID, cluster.nannyPID] + workers {
            #expect(await hasEnded(pid), "process \(pid) is still running after shutdown")
        }
    }

    /// A local cluster whose nanny is hung (stopped with SIGSTOP: it can take no signal but
    /// SIGKILL) still closes: the nanny gets SIGKILL after the grace, and the scheduler stops;
    /// by `close(within:)`, which blocks its thread, and by `stop(within:)`, which does not.
    @Test(.timeLimit(.minutes(1)), arguments: [false, true])
    func closingALocalClusterWithAHungNannyEnds(withoutBlocking: Bool) async throws {
        let cluster = try await LocalCluster(
            workers: 1, threadsPerWorker: 1, memoryLimit: "0", dashboard: false, executable: TestBinaries.testTasks)
        let client = try await Client.connect(cluster.address, security: cluster.security, setAsDefault: false)
        try await client.waitForWorkers(1)
        let workers = try await client.run(Self.processID, 0).values.map { Int32($0) }
        await client.close()
        #expect(kill(cluster.nannyPID, SIGSTOP) == 0)
        if withoutBlocking {
            await cluster.stop(within: .seconds(2))
        } else {
            cluster.close(within: .seconds(2))
        }
        // Reaped: kill(pid, 0) fails for both.
        #expect(kill(cluster.nannyPID, 0) == -1 && errno == ESRCH, "the hung nanny is still there")
        #expect(kill(cluster.schedulerPID, 0) == -1 && errno == ESRCH, "the scheduler is still there")
        // Its worker gets SIGTERM when the nanny dies (asked for on its main thread: once, when the
        // request lived on a pool thread that had ended, a worker outlived both here).
        for pid in workers {
            let ended = await hasEnded(pid)
            #expect(ended, "worker \(pid) outlived its nanny")
            if !ended { kill(pid, SIGKILL) }
        }
    }

    /// Whether `pid` has exited (or is a zombie: the cluster's processes are this process's
    /// children until reaped) within 15 s.
    private func hasEnded(_ pid: Int32) async -> Bool {
        func ended() -> Bool {
            guard kill(pid, 0) == 0 else { return true }
            let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            guard let end = stat.lastIndex(of: ")") else { return true }
            return stat[stat.index(after: end)...].split(separator: " ").first == "Z"
        }
        for _ in 0..<750 where !ended() {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return ended()
    }

    /// A `Variable` is held by the scheduler: one client waits for it, another sets it.
    @Test func aVariableSetByOneClientReachesAnotherThatWaits() async throws {
        let cluster = try await LocalTestCluster(workers: 1)
        defer { cluster.stop() }
        let waiter = try await Client.connect(cluster.address, setAsDefault: false)
        let setter = try await Client.connect(cluster.address, setAsDefault: false)
        let waiting = Task { try await Variable<[Int]>("shared", client: waiter).get() }
        try Variable<[Int]>("shared", client: setter).set([1, 2, 3])
        #expect(try await waiting.value == [1, 2, 3])
        // One client's set and get travel in order on its stream: the last set wins.
        try Variable<[Int]>("shared", client: setter).set([4])
        #expect(try await Variable<[Int]>("shared", client: setter).get() == [4])
        await setter.close()
        await waiter.close()
    }

    /// A `Queue` is held by the scheduler: a getter waits, a putter's values arrive oldest first.
    @Test func aQueueHandsEachValueToOneGetterOldestFirst() async throws {
        let cluster = try await LocalTestCluster(workers: 1)
        defer { cluster.stop() }
        let consumer = try await Client.connect(cluster.address, setAsDefault: false)
        let producer = try await Client.connect(cluster.address, setAsDefault: false)
        let first = Task { try await Queue<String>("jobs", client: consumer).get() }
        for job in ["a", "b", "c"] { try Queue<String>("jobs", client: producer).put(job) }
        #expect(try await first.value == "a")
        let jobs = Queue<String>("jobs", client: consumer)
        #expect(try await jobs.get() == "b")
        #expect(try await jobs.get() == "c")
        await producer.close()
        await consumer.close()
    }

    /// A `Lock` held by the scheduler: a second client waits until the first releases it.
    @Test func aLockIsHeldByOneClientAtATime() async throws {
        let cluster = try await LocalTestCluster(workers: 1)
        defer { cluster.stop() }
        let first = try await Client.connect(cluster.address, setAsDefault: false)
        let second = try await Client.connect(cluster.address, setAsDefault: false)
        try await Lock("resource", client: first).acquire()
        let order = Queue<String>("order", client: second)
        let waiting = Task {
            try await Lock("resource", client: second).acquire()
            try order.put("second acquired")
        }
        // The first client's put and release travel in order on its stream: the second client
        // can only have acquired after the release, so "first released" comes first.
        try Queue<String>("order", client: first).put("first released")
        Lock("resource", client: first).release()
        try await waiting.value
        #expect(try await order.get() == "first released")
        #expect(try await order.get() == "second acquired")
        await second.close()
        await first.close()
    }

    /// An `Event` held by the scheduler: one client waits, another sets it.
    @Test func anEventSetByOneClientReleasesAnotherThatWaits() async throws {
        let cluster = try await LocalTestCluster(workers: 1)
        defer { cluster.stop() }
        let waiter = try await Client.connect(cluster.address, setAsDefault: false)
        let setter = try await Client.connect(cluster.address, setAsDefault: false)
        let ready = Event("ready", client: setter)
        #expect(try await ready.isSet() == false)
        let waiting = Task { try await Event("ready", client: waiter).wait() }
        ready.set()
        try await waiting.value
        #expect(try await ready.isSet())
        ready.clear()
        #expect(try await ready.isSet() == false)
        await setter.close()
        await waiter.close()
    }
}
