import DroverClient
import DroverCore
import DroverProto
import DroverTestKit
import Foundation
import Testing

/// Functions of `drover-test-tasks` used here by name.
enum SharedMemoryTasks {
    struct NotHere: Error {}
    static let checksumWhen = TaskFunction("test-checksum-when") { (_: String, _: Data) throws -> Int in
        throw NotHere()
    }
    static let ones = TaskFunction("test-ones") { (_: Int) throws -> Data in throw NotHere() }
    static let sumPacked = TaskFunction("test-sum-packed") { (_: PackedArray<Double>) throws -> Double in
        throw NotHere()
    }
}

/// Values handed between two workers of this host as shared memory (a sealed memfd), with the
/// producer or the consumer killed in the middle.
@Suite(.timeLimit(.minutes(1)), .serialized) struct SharedMemoryTests {
    static let size = 8 << 20
    /// The sum of the bytes of `Builtins.data` of ``size`` bytes.
    static let checksum = (0..<size).reduce(0) { $0 + $1 % 251 }

    /// The lines of `/proc/<pid>/maps` and the targets of `/proc/<pid>/fd/*` naming a Drover
    /// segment of `key` (`/memfd:drover:<key> (deleted)`).
    static func segments(of pid: Int32, key: TaskKey) -> [String] {
        let name = "/memfd:drover:\(key.rawValue)"
        let maps = (try? String(contentsOfFile: "/proc/\(pid)/maps", encoding: .utf8)) ?? ""
        var found = maps.split(separator: "\n").filter { $0.contains(name) }.map(String.init)
        let directory = "/proc/\(pid)/fd"
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(directory)/\(entry)"),
                target.contains(name)
            {
                found.append("fd \(entry) -> \(target)")
            }
        }
        return found
    }

    /// Waits up to 10 s for `condition`, checking every 20 ms.
    static func waitUntil(_ condition: () -> Bool) async -> Bool {
        for _ in 0..<500 {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }

    static func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("drover-shm-\(UUID().uuidString)").path
    }

    /// A `[Double]` result taken as `PackedArray<Double>` by a task on another worker of the host
    /// (which maps the producer's segment, as the tests below show): every double read right.
    @Test func aPackedArrayConsumerReadsASharedArrayOfDoublesInPlace() async throws {
        let cluster = try await LocalTestCluster(workers: 2, threads: 1)
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        let count = Self.size / MemoryLayout<Double>.stride
        let made = try client.submit(Builtins.doubles, count, workers: [cluster.workerAddresses[0]])
        let sum = try await client.submit(
            SharedMemoryTasks.sumPacked, made.viewed(as: PackedArray<Double>.self),
            workers: [cluster.workerAddresses[1]]
        ).result()
        #expect(throws: ClientError.self) { try made.viewed(as: [Int].self) }
        #expect(sum == Double(count * (count - 1) / 2))
        await client.close()
    }

    @Test func aValueMappedByAConsumerIsIntactAfterItsProducerIsKilled() async throws {
        let cluster = try await LocalTestCluster(workers: 2, threads: 1)
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        let (producer, consumer) = (cluster.workers[0], cluster.workers[1])
        let value = try client.submit(Builtins.data, Self.size, workers: [cluster.workerAddresses[0]])
        _ = try await value.result()
        let go = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: go) }
        let counted = try client.submit(
            SharedMemoryTasks.checksumWhen, go, value, workers: [cluster.workerAddresses[1]])
        // The consumer has the producer's segment mapped (not a copy of its bytes)...
        let isMapped = await Self.waitUntil { !Self.segments(of: consumer.pid, key: value.key).isEmpty }
        #expect(isMapped, "the consumer never mapped the segment; its log:\n\(consumer.log())")
        // ...and reads it only after the producer is gone. The scheduler may give up on the task
        // meanwhile (the consumer's copy is not yet reported; the value would be recomputed, and
        // here cannot be, as it is restricted to the dead worker): the task writes what it read.
        producer.stop()
        #expect(FileManager.default.createFile(atPath: go, contents: Data()))
        defer { try? FileManager.default.removeItem(atPath: go + ".sum") }
        let isWritten = await Self.waitUntil {
            !((try? String(contentsOfFile: go + ".sum", encoding: .utf8)) ?? "").isEmpty
        }
        #expect(isWritten, "the consumer wrote no sum; its log:\n\(consumer.log())")
        let sum = try? String(contentsOfFile: go + ".sum", encoding: .utf8)
        #expect(sum == String(Self.checksum))
        withExtendedLifetime(counted) {}
        await client.close()
    }

    @Test func aConsumerKilledWhileMappingLeavesNoSegmentOnceTheValueIsReleased() async throws {
        let shmBefore = Set((try? FileManager.default.contentsOfDirectory(atPath: "/dev/shm")) ?? [])
        let cluster = try await LocalTestCluster(workers: 2, threads: 1)
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        let (producer, consumer) = (cluster.workers[0], cluster.workers[1])
        var value: Future<Data>? = try client.submit(Builtins.data, Self.size, workers: [cluster.workerAddresses[0]])
        let key = value!.key
        _ = try await value!.result()
        #expect(!Self.segments(of: producer.pid, key: key).isEmpty, "the producer made no segment")
        var waiting: Future<Int>? = try client.submit(
            SharedMemoryTasks.checksumWhen, Self.temporaryPath(), value!, workers: [cluster.workerAddresses[1]])
        let isMapped = await Self.waitUntil { !Self.segments(of: consumer.pid, key: key).isEmpty }
        #expect(isMapped, "the consumer never mapped the segment; its log:\n\(consumer.log())")
        consumer.stop()
        value = nil
        waiting = nil
        withExtendedLifetime(waiting) {}
        // Released, the producer lets the segment go; with the consumer dead nothing maps it.
        let isFreed = await Self.waitUntil { Self.segments(of: producer.pid, key: key).isEmpty }
        #expect(isFreed, "the producer still holds: \(Self.segments(of: producer.pid, key: key))")
        // Every process of this cluster, and this one (other tests running beside this one may
        // make a value of the same key, in segments of the same name, in processes of their own).
        let ours = [cluster.scheduler.pid, getpid()] + cluster.workers.map(\.pid)
        let holders = ours.filter { !Self.segments(of: $0, key: key).isEmpty }
        #expect(holders == [])
        let shmAfter = Set((try? FileManager.default.contentsOfDirectory(atPath: "/dev/shm")) ?? [])
        #expect(shmAfter.subtracting(shmBefore).filter { $0.contains("drover") }.isEmpty)
        await client.close()
    }

    @Test func withSharedMemoryOffTheBytesTravelAsBefore() async throws {
        let cluster = try await LocalTestCluster(
            workers: 2, threads: 1, workerEnvironment: ["DROVER_SHARED_MEMORY": "off"])
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        let value = try client.submit(Builtins.data, Self.size, workers: [cluster.workerAddresses[0]])
        _ = try await value.result()
        #expect(Self.segments(of: cluster.workers[0].pid, key: value.key).isEmpty)
        let go = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: go) }
        #expect(FileManager.default.createFile(atPath: go, contents: Data()))
        let counted = try client.submit(
            SharedMemoryTasks.checksumWhen, go, value, workers: [cluster.workerAddresses[1]])
        #expect(try await counted.result() == Self.checksum)
        await client.close()
    }

    /// A result's shared copy is charged to its worker's cgroup: 224 MiB fits a 384 MiB worker as
    /// private memory, but not once it is also copied into a segment, and then the kernel holds
    /// the worker to its limit as for any other memory.
    @Test(.enabled(if: cgroupsWritable, "needs a writable memory cgroup"))
    func aResultWhoseSharedCopyPassesTheLimitIsOOMKilledAtTheLimit() async throws {
        let size = 224 << 20
        let off = try await NannyCluster(
            [.init(name: "private", workers: 1, memoryLimit: "384MiB")],
            nannyEnvironment: ["DROVER_SHARED_MEMORY": "off"])
        let offClient = try await Client.connect(off.address, setAsDefault: false)
        // Counted where it was made: a gather of 224 MiB would be a transfer's memory, not this test's.
        let made = try offClient.submit(SharedMemoryTasks.ones, size)
        #expect(try await offClient.submit(Builtins.countData, made).result() == size)
        await offClient.close()
        await off.stop()

        let cluster = try await NannyCluster([.init(name: "shared", workers: 1, memoryLimit: "384MiB")])
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        let shared = try client.submit(SharedMemoryTasks.ones, size)
        let error = try await #require(throws: TaskError.self) {
            try await client.submit(Builtins.countData, shared).result()
        }
        #expect(error.kind == .killedWorker)
        #expect(error.message.contains("OOM-killed at its 384 MiB limit"), "\(error.message)")
        let worker = try #require(try await cluster.status().workers.first)
        #expect(worker.lastPeakBytes > 0)
        #expect(worker.lastPeakBytes <= 384 << 20)
        await client.close()
        await cluster.stop()
    }
}
