import DroverLocal
import DroverNanny
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The cgroup v1 controller against the real kernel: a worker that allocates past its limit is OOM-killed inside
/// its own cgroup, and nothing is left behind.
@Suite struct KernelCgroupTests {
    /// This process's writable cgroup v1 memory directory, or why there is none.
    static let availability: Result<CgroupController, CgroupError> = {
        do throws(CgroupError) {
            let controller = try CgroupController.find()
            guard controller.version == .v1 else {
                // Under v2 the controller would move this test process into a leaf cgroup.
                return .failure(
                    CgroupError(
                        code: .unavailable,
                        message: "This process's memory cgroup is v2 (\(controller.directory)); this test needs v1."))
            }
            return .success(controller)
        } catch {
            return .failure(error)
        }
    }()

    static var isAvailable: Bool {
        switch availability {
        case .success:
            return true
        case .failure(let error):
            print("KernelCgroupTests skipped: \(error.message)")
            return false
        }
    }

    @Test(.enabled(if: isAvailable, "needs a writable cgroup v1 memory directory (the reason is printed)"))
    func aWorkerPastItsLimitIsOOMKilledInItsOwnCgroup() throws {
        let controller = try Self.availability.get()
        let limit: Int64 = 64 << 20
        let cgroup = try controller.create(name: "drover-test-oom-\(getpid())", limit: limit)
        defer { removeAndCheck(cgroup) }
        #expect(try cgroup.currentBytes() == 0)
        let before = try cgroup.oomKillCount()

        // The shell joins the cgroup, then dd reads 256 MiB of zeros into one buffer, touching every page.
        let pid = try Spawn.start(
            "/bin/sh",
            arguments: [
                "-c", "echo $$ > \"$1\" && exec dd if=/dev/zero of=/dev/null bs=256M count=1 2>/dev/null", "sh",
                cgroup.procsFile,
            ],
            descriptors: [])
        let status = Spawn.wait(pid)

        let after = try cgroup.oomKillCount()
        let peak = try cgroup.peakBytes()
        #expect(Spawn.describe(status: status) == "was killed by signal 9 (SIGKILL)")
        #expect(after >= before + 1)
        let cause = ExitCause.classify(
            status: status, oomKillsBefore: before, oomKillsAfter: after, limit: limit, peak: peak)
        #expect(cause == .oomKilled(limit: limit, peak: peak))
        let peakBytes = try #require(peak)
        #expect(peakBytes <= limit)
        #expect(peakBytes > limit / 2)
        #expect(cause.description.hasPrefix("OOM-killed at its 64 MiB limit (peak "))
    }

    @Test(.enabled(if: isAvailable, "needs a writable cgroup v1 memory directory (the reason is printed)"))
    func removalKillsAProcessStillInTheCgroup() throws {
        let controller = try Self.availability.get()
        let cgroup = try controller.create(name: "drover-test-straggler-\(getpid())", limit: 64 << 20)
        defer { removeAndCheck(cgroup) }
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        defer { close(fds[0]) }
        // The child says "in" once it has joined, so remove() cannot run before it is in the cgroup.
        let pid = try Spawn.start(
            "/bin/sh",
            arguments: ["-c", "echo $$ > \"$1\" && echo in && exec sleep 600", "sh", cgroup.procsFile],
            descriptors: [(fds[1], 1)])
        close(fds[1])
        var byte: UInt8 = 0
        try #require(read(fds[0], &byte, 1) == 1)
        #expect(cgroup.processIDs() == [pid])

        try cgroup.remove()
        #expect(Spawn.describe(status: Spawn.wait(pid)) == "was killed by signal 9 (SIGKILL)")
        #expect(!FileManager.default.fileExists(atPath: cgroup.path))
    }

    @Test(.enabled(if: isAvailable, "needs a writable cgroup v1 memory directory (the reason is printed)"))
    func theKernelTakesTheLimit() throws {
        let controller = try Self.availability.get()
        let cgroup = try controller.create(name: "drover-test-limit-\(getpid())", limit: 300 << 20)
        defer { removeAndCheck(cgroup) }
        let written = try String(contentsOfFile: cgroup.path + "/memory.limit_in_bytes", encoding: .utf8)
        #expect(written == "314572800\n")
        #expect(try cgroup.oomKillCount() == 0)
        #expect(cgroup.processIDs().isEmpty)
    }

    private func removeAndCheck(_ cgroup: WorkerCgroup, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            try cgroup.remove()
        } catch {
            Issue.record("could not remove \(cgroup.path): \(error)", sourceLocation: sourceLocation)
        }
        #expect(!FileManager.default.fileExists(atPath: cgroup.path), "left behind: \(cgroup.path)")
    }
}
