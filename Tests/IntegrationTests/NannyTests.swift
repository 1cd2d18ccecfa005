import DroverClient
import DroverCore
import DroverNanny
import DroverProto
import DroverTestKit
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Testing

/// Functions of `drover-test-tasks` used here by name.
enum NannyTasks {
    struct NotHere: Error {}
    static let slowPlus = TaskFunction("test-slow-plus") { (_: Int, _: Int) throws -> Int in throw NotHere() }
    static let filled = TaskFunction("test-filled") { (_: Int, _: Int) throws -> [UInt8] in throw NotHere() }
}

/// A scheduler and nannies as real processes on loopback. `stop()` stops the nannies with SIGTERM
/// and checks that they left no worker process and no cgroup behind.
final class NannyCluster: Sendable {
    struct Spec {
        var name: String
        var workers: Int
        var threads = 1
        var memoryLimit = "0"
        /// More of `drover nanny`'s options.
        var arguments: [String] = []
    }

    let scheduler: ProcessHarness
    let nannies: [ProcessHarness]
    let address: String
    let nannyAddresses: [String]
    /// The client's settings: TLS with `certificates`, or plaintext.
    let security: Security

    /// With `certificates`, the scheduler and the nannies use their roles' certificates from
    /// there, and the nannies give their workers the worker certificate.
    init(
        _ specs: [Spec], schedulerArguments: [String] = [], certificates: CertificateDirectory? = nil,
        nannyEnvironment: [String: String] = [:]
    ) async throws {
        let binary = TestBinaries.testTasks
        security = certificates?.security(for: .client) ?? .insecurePlaintext
        scheduler = try ProcessHarness(
            binary,
            ["scheduler", "--port", "0"] + schedulerArguments
                + (certificates?.security(for: .scheduler).arguments ?? []),
            name: "scheduler")
        address = try await scheduler.listeningAddress()
        var nannies: [ProcessHarness] = []
        var addresses: [String] = []
        for spec in specs {
            let nanny = try ProcessHarness(
                binary,
                [
                    "nanny", address, "--nworkers", String(spec.workers), "--nthreads", String(spec.threads),
                    "--memory-limit", spec.memoryLimit, "--name", spec.name, "--drain-timeout", "10",
                ] + spec.arguments + (certificates?.security(for: .nanny).arguments ?? []),
                environment: ProcessInfo.processInfo.environment.merging(nannyEnvironment) { $1 },
                name: "nanny-\(spec.name)")
            addresses.append(try await nanny.listeningAddress())
            nannies.append(nanny)
        }
        self.nannies = nannies
        self.nannyAddresses = addresses
    }

    func status(_ nanny: Int = 0) async throws -> Drover_V1_NannyStatus {
        let endpoint = try #require(HostAndPort(nannyAddresses[nanny]))
        return try await withGRPCClient(
            transport: try Transports.makeClient(to: endpoint, security: security)
        ) { client in
            var options = CallOptions.defaults
            // A deadline, not a promise of speed: with the whole suite running on two cores a TLS
            // handshake and the call once took over 5 s.
            options.timeout = .seconds(20)
            return try await Drover_V1_Nanny.Client(wrapping: client).status(.init(), options: options)
        }
    }

    /// SIGTERM to each nanny; then no worker of theirs may be alive and no cgroup of theirs left.
    func stop(sourceLocation: SourceLocation = #_sourceLocation) async {
        var workerPIDs: [Int32] = []
        var cgroupPrefixes: [String] = []
        for (index, nanny) in nannies.enumerated() {
            if !nanny.hasExited, let status = try? await status(index) {
                workerPIDs += status.workers.map(\.pid).filter { $0 > 0 }
            }
            cgroupPrefixes.append("drover-\(nanny.pid)-")
            let (_, graceful) = await nanny.terminate()
            #expect(
                graceful, "nanny \(nanny.name) did not exit on SIGTERM; its log:\n\(nanny.log())",
                sourceLocation: sourceLocation)
        }
        scheduler.stop()
        for pid in workerPIDs {
            #expect(await hasExited(pid), "worker \(pid) outlived its nanny", sourceLocation: sourceLocation)
        }
        if let controller = try? CgroupController.find() {
            let left = ((try? FileManager.default.contentsOfDirectory(atPath: controller.directory)) ?? []).filter {
                name in cgroupPrefixes.contains { name.hasPrefix($0) }
            }
            #expect(left.isEmpty, "cgroups left behind: \(left)", sourceLocation: sourceLocation)
        }
    }
}

/// Whether process `pid` (not our child) is gone within 5 s.
/// A new empty directory under the system's temporary directory.
func makeTemporaryDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("drover-test-\(UUID())").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    return path
}

func hasExited(_ pid: Int32) async -> Bool {
    for _ in 0..<250 {
        if kill(pid, 0) != 0 { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return kill(pid, 0) != 0
}

/// The children of process `pid`, from `/proc/<pid>/task/*/children`.
func childProcesses(of pid: Int32) -> [Int32] {
    let threads = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
    return threads.flatMap { thread in
        (ProcessTable.text(of: "/proc/\(pid)/task/\(thread)/children") ?? "")
            .split(separator: " ").compactMap { Int32($0) }
    }
}

/// Memory limits are the kernel's here: these tests need a writable cgroup (v1 on this machine).
let cgroupsWritable = (try? CgroupController.find()) != nil

@Suite(.timeLimit(.minutes(2)), .serialized) struct NannyTests {
    @Test(.enabled(if: cgroupsWritable, "needs a writable memory cgroup"))
    func aTaskOverTheLimitIsOOMKilledThreeTimesThenErrsWithKilledWorker() async throws {
        let cluster = try await NannyCluster([.init(name: "oom", workers: 1, memoryLimit: "300MiB")])
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        let big = try client.submit(Builtins.allocate, 1 << 30, 0.0)
        let error = try await #require(throws: TaskError.self) { try await big.result() }
        #expect(error.kind == .killedWorker)
        #expect(error.message.contains("3 times"))
        #expect(error.message.contains("OOM-killed at its 300 MiB limit"))
        let status = try await cluster.status()
        let worker = try #require(status.workers.first)
        #expect(worker.restarts >= 3)
        #expect(worker.lastCause.contains("OOM-killed at its 300 MiB limit"))
        // The kernel held it to its limit: the cgroup's peak never went above it.
        #expect(worker.lastPeakBytes > 0)
        #expect(worker.lastPeakBytes <= 300 << 20)
        // The restarted worker serves again.
        try await eventually(client) { $0.workers.count == 1 }
        #expect(try await client.submit(Builtins.plus, 1, 2).result() == 3)
        await client.close()
        await cluster.stop()
    }

    /// With TLS, the nanny's report of the exit and its Status service use its certificate.
    @Test(arguments: [false, true])
    func aWorkerKilledWithSIGKILLIsReplacedAndTheComputationFinishes(tls: Bool) async throws {
        let cluster = try await NannyCluster(
            [.init(name: "k", workers: 2)], certificates: tls ? try Security.temporary().certificateDirectory : nil)
        let client = try await Client.connect(cluster.address, security: cluster.security, setAsDefault: false)
        try await client.waitForWorkers(2)
        let futures = try client.submit((0..<400).map { NannyTasks.slowPlus.delayed($0, 1) })
        try await eventually(client) { $0.workers.contains { $0.processing > 0 } }
        let victim = try #require(try await cluster.status().workers.first { $0.pid > 0 })
        kill(victim.pid, SIGKILL)
        #expect(try await client.gather(futures) == (0..<400).map { $0 + 1 })
        let after = try await cluster.status()
        #expect(after.workers.map(\.restarts).reduce(0, +) == 1)
        #expect(after.workers.first { $0.name == victim.name }?.lastCause == "killed by signal 9 (SIGKILL)")
        try await eventually(client) { $0.workers.count == 2 }
        await client.close()
        await cluster.stop()
    }

    /// With TLS, the scheduler's KillWorker call to the nanny uses the scheduler's certificate.
    @Test(arguments: [false, true])
    func aHungWorkerIsKilledByItsNannyOnceTheSchedulerRemovesIt(tls: Bool) async throws {
        let cluster = try await NannyCluster(
            [.init(name: "hang", workers: 2)], schedulerArguments: ["--worker-ttl", "2"],
            certificates: tls ? try Security.temporary().certificateDirectory : nil)
        let client = try await Client.connect(cluster.address, security: cluster.security, setAsDefault: false)
        try await client.waitForWorkers(2)
        let futures = try client.submit((0..<200).map { NannyTasks.slowPlus.delayed($0, 1) })
        try await eventually(client) { $0.workers.allSatisfy { $0.processing > 0 } }
        let victim = try #require(try await cluster.status().workers.first { $0.pid > 0 })
        kill(victim.pid, SIGSTOP)
        #expect(try await client.gather(futures) == (0..<200).map { $0 + 1 })
        // The stopped process does not sit in its cgroup forever: its nanny kills and replaces it.
        #expect(await hasExited(victim.pid))
        var replaced: Drover_V1_NannyWorker?
        for _ in 0..<200 {
            replaced = try await cluster.status().workers.first { $0.name == victim.name && $0.pid > 0 }
            if let replaced, replaced.pid != victim.pid { break }
            try await Task.sleep(for: .milliseconds(25))
        }
        let worker = try #require(replaced)
        #expect(worker.pid != victim.pid)
        #expect(worker.restarts == 1)
        #expect(worker.lastCause.contains("the scheduler removed it"))
        try await eventually(client) { $0.workers.count == 2 }
        await client.close()
        await cluster.stop()
    }

    @Test(.enabled(if: cgroupsWritable, "needs a writable memory cgroup"))
    func resultsTotallingThreeTimesTheLimitSpillAndComeBackIntact() async throws {
        let cluster = try await NannyCluster([.init(name: "spill", workers: 1, memoryLimit: "256MiB")])
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        let size = 16 << 20
        let count = 48  // 768 MiB in all
        let futures = try (0..<count).map { try client.submit(NannyTasks.filled, size, $0) }
        _ = try await client.wait(futures)
        try await eventually(client) { $0.workers.first.map { $0.spilledBytes > 0 } ?? false }
        for (seed, future) in futures.enumerated() {
            let value = try await future.result()
            #expect(value == [UInt8](repeating: UInt8(seed % 251), count: size), "result \(seed) changed")
        }
        #expect(try await cluster.status().workers.first?.restarts == 0)
        await client.close()
        await cluster.stop()
    }

    /// A worker killed with its results spilled cannot remove its spill files: its nanny does.
    @Test func theSpillFilesOfAKilledWorkerAreRemovedByItsNanny() async throws {
        let local = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: local) }
        let cluster = try await NannyCluster([
            .init(name: "spills", workers: 1, memoryLimit: "256MiB", arguments: ["--local-directory", local])
        ])
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        try await client.waitForWorkers(1)
        // 384 MiB of results in a 256 MiB worker: most go to disk.
        let futures = try (0..<24).map { try client.submit(NannyTasks.filled, 16 << 20, $0, pure: false) }
        _ = try await client.wait(futures)
        try await eventually(client) { $0.workers.first.map { $0.spilledBytes > 0 } ?? false }
        let directories = try FileManager.default.contentsOfDirectory(atPath: local)
        try #require(directories.count == 1 && directories[0].hasPrefix("drover-worker-n"), "\(directories)")
        let spilled = local + "/" + directories[0]
        #expect(try FileManager.default.contentsOfDirectory(atPath: spilled).contains { $0.hasSuffix(".spill") })

        let victim = try #require(try await cluster.status().workers.first { $0.pid > 0 })
        kill(victim.pid, SIGKILL)
        var restarts = 0
        for _ in 0..<500 where restarts == 0 {
            try await Task.sleep(for: .milliseconds(20))
            restarts = Int(try await cluster.status().workers.first?.restarts ?? 0)
        }
        #expect(restarts == 1)
        #expect(!FileManager.default.fileExists(atPath: spilled), "the killed worker's spill files are still there")
        // The results are made again (and spilled again, in the new worker's own directory).
        for (seed, future) in futures.enumerated().prefix(2) {
            #expect(try await future.result() == [UInt8](repeating: UInt8(seed % 251), count: 16 << 20))
        }
        await client.close()
        await cluster.stop()
    }

    /// A nanny that starts removes the spill directories its dead predecessors named (their
    /// workers died with them), and nothing else.
    @Test func aNannyRemovesTheSpillDirectoriesOfNanniesThatDied() async throws {
        let local = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: local) }
        let finished = Process()
        finished.executableURL = URL(fileURLWithPath: "/bin/true")
        try finished.run()
        finished.waitUntilExit()
        let dead = finished.processIdentifier
        let names = [
            "drover-worker-n\(dead)-00000000000000ab",  // a dead nanny's: removed
            "drover-worker-n\(getpid())-00000000000000cd",  // a running process's: kept
            "drover-worker-\(dead)-00000000000000ef",  // a worker's own, not a nanny's: kept
            "drover-worker-n\(dead)-notahexsuffix000",  // not a name a nanny makes: kept
        ]
        for name in names {
            try FileManager.default.createDirectory(atPath: local + "/" + name, withIntermediateDirectories: false)
            #expect(FileManager.default.createFile(atPath: local + "/" + name + "/0.spill", contents: Data([1, 2, 3])))
        }
        let scheduler = try ProcessHarness(TestBinaries.testTasks, ["scheduler", "--port", "0"], name: "scheduler")
        let address = try await scheduler.listeningAddress()
        let nanny = try ProcessHarness(
            TestBinaries.testTasks, ["nanny", address, "--local-directory", local, "--name", "next"], name: "nanny")
        _ = try await nanny.listeningAddress()
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: local))
        #expect(left == Set(names.dropFirst()))
        #expect(await nanny.terminate().graceful)
        scheduler.stop()
    }

    @Test(.enabled(if: cgroupsWritable, "needs a writable memory cgroup"))
    func aWorkerAbove80PercentOfItsLimitPausesAndResumes() async throws {
        let cluster = try await NannyCluster([.init(name: "pause", workers: 1, memoryLimit: "256MiB")])
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        try await client.waitForWorkers(1)
        let held = try client.submit(Builtins.allocate, 190 << 20, 3.0)
        try await eventually(client) { $0.workers.first?.isPaused == true }
        #expect(try await held.result() == 190 << 20)
        try await eventually(client) { $0.workers.first?.isPaused == false }
        #expect(try await client.submit(Builtins.plus, 2, 3).result() == 5)
        await client.close()
        await cluster.stop()
    }

    @Test func sigtermDrainsResultsOnlyTheRetiringWorkerHeld() async throws {
        let cluster = try await NannyCluster([.init(name: "a", workers: 1), .init(name: "b", workers: 1)])
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        try await client.waitForWorkers(2)
        let futures = try (0..<20).map { try client.submit(Builtins.noop, 1000 + $0, workers: ["a-0"]) }
        _ = try await client.wait(futures)
        let (status, graceful) = await cluster.nannies[0].terminate()
        #expect(graceful)
        #expect(status == 0)
        // Only b-0 is left, holding every result: they moved (a-0 alone may run these tasks).
        try await eventually(client) { $0.workers.map(\.id) == ["b-0"] }
        #expect(try await client.status().workers.first?.held == 20)
        #expect(try await client.gather(futures) == (0..<20).map { 1000 + $0 })
        await client.close()
        await cluster.stop()
    }

    @Test(.enabled(if: cgroupsWritable, "needs a writable memory cgroup"))
    func workersExitWhenTheirNannyIsKilledAndTheNextNannyRemovesItsCgroups() async throws {
        let cluster = try await NannyCluster([.init(name: "orphan", workers: 2, memoryLimit: "256MiB")])
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        try await client.waitForWorkers(2)
        let nanny = cluster.nannies[0]
        // Its two workers and the standby process it keeps ready (started shortly after them).
        var workers = childProcesses(of: nanny.pid)
        for _ in 0..<250 where workers.count < 3 {
            try await Task.sleep(for: .milliseconds(20))
            workers = childProcesses(of: nanny.pid)
        }
        #expect(workers.count == 3)
        let directory = try CgroupController.find().directory
        let prefix = "drover-\(nanny.pid)-"
        func cgroups() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasPrefix(prefix) }
        }
        #expect(cgroups().count == 3)
        nanny.stop()  // SIGKILL: no chance to clean up
        try await eventually(client) { $0.workers.isEmpty }
        for pid in workers {
            #expect(await hasExited(pid), "worker \(pid) outlived its nanny")
        }
        // The next nanny on this host removes what the dead one left.
        let next = try ProcessHarness(
            TestBinaries.testTasks, ["nanny", cluster.address, "--memory-limit", "256MiB", "--name", "next"],
            name: "nanny-next")
        _ = try await next.listeningAddress()
        #expect(cgroups().isEmpty)
        #expect(await next.terminate().graceful)
        await client.close()
        cluster.scheduler.stop()
    }

    @Test func droverWorkerUsesANannyUnlessToldNot() async throws {
        let scheduler = try ProcessHarness(TestBinaries.testTasks, ["scheduler", "--port", "0"], name: "scheduler")
        defer { scheduler.stop() }
        let address = try await scheduler.listeningAddress()
        let nanny = try ProcessHarness(
            TestBinaries.testTasks, ["worker", address, "--nworkers", "2", "--memory-limit", "0", "--name", "n"],
            name: "worker-nanny")
        _ = try await nanny.listeningAddress()
        let client = try await Client.connect(address, setAsDefault: false)
        try await client.waitForWorkers(2)
        let workers = try await client.status().workers
        #expect(workers.map(\.id).sorted() == ["n-0", "n-1"])
        #expect(workers.allSatisfy { !$0.nanny.isEmpty })
        await client.close()
        #expect(await nanny.terminate().graceful)
    }

    @Test func aMemoryLimitThatCannotBeParsedOrExceedsTheHostIsRefusedBeforeAnythingStarts() async throws {
        for (limit, message) in [("lots", "is not a memory limit"), ("64TiB", "exceeds")] {
            let nanny = try ProcessHarness(
                TestBinaries.testTasks, ["nanny", "127.0.0.1:1", "--memory-limit", limit], name: "nanny-bad")
            await #expect(throws: HarnessError.self) { try await nanny.listeningAddress() }
            #expect(nanny.log().contains(message), "log: \(nanny.log())")
            nanny.stop()
        }
    }
}

@Suite(.timeLimit(.minutes(2))) struct ChaosTests {
    /// Kills a random worker every 200 ms for 5 s while a 10,000-task graph runs.
    @Test func everyFutureResolvesRightWhileWorkersKeepDying() async throws {
        let cluster = try await NannyCluster([.init(name: "x", workers: 2), .init(name: "y", workers: 2)])
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        try await client.waitForWorkers(4)
        let leaves = 5000
        let firsts = (0..<leaves).map { NannyTasks.slowPlus.delayed($0, 0) }
        let pairs = try client.submit((0..<leaves - 1).map { NannyTasks.slowPlus.delayed(firsts[$0], firsts[$0 + 1]) })
        var kills = 0
        let end = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < end {
            try await Task.sleep(for: .milliseconds(200))
            // The nannies' children are their workers (read from /proc: no RPC between kills).
            if let victim = cluster.nannies.flatMap({ childProcesses(of: $0.pid) }).randomElement() {
                kill(victim, SIGKILL)
                kills += 1
            }
        }
        // 25 ticks; a tick may find every worker restarting (the nanny backs off a worker killed
        // again within 10 s of its start), so fewer than 25 die.
        #expect(kills >= 5, "only \(kills) workers were killed")
        print("chaos: \(kills) workers killed in 5 s")
        let values = try await client.gather(pairs)
        #expect(values == (0..<leaves - 1).map { 2 * $0 + 1 })
        await client.close()
        await cluster.stop()
    }
}
