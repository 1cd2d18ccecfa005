import DroverCore
import DroverLocal
import DroverTestKit
import Foundation
import Testing

/// A child told to die with its parent (a nanny's worker, a local cluster's scheduler) that finds
/// its parent already gone must end at once, whoever adopted it: pid 1, or a subreaper with any
/// other pid (a container's init, a service manager, a test harness).
@Suite(.timeLimit(.minutes(2))) struct ExitWithParentTests {
    /// Runs `drover-test-tasks functions` as a nanny starts a worker (``Spawn``), with
    /// ``Drover/exitWithParentVariable`` set to `parent`.
    private func run(recordedParent parent: pid_t) throws -> (exit: DroverCore.ExitStatus, output: String) {
        var environment = ProcessInfo.processInfo.environment
        environment[Drover.exitWithParentVariable] = String(parent)
        let output = Pipe()
        let pid = try Spawn.start(
            TestBinaries.testTasks, arguments: ["functions"], environment: environment,
            descriptors: [(output.fileHandleForWriting.fileDescriptor, 1)])
        try output.fileHandleForWriting.close()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (DroverCore.ExitStatus(waitStatus: Spawn.wait(pid)), text)
    }

    @Test func aChildWhoseRecordedParentIsAliveRuns() throws {
        let result = try run(recordedParent: getpid())
        #expect(result.exit == .exited(code: 0), "\(result)")
        #expect(result.output.contains("add"), "\(result)")
    }

    /// The recorded parent is not this child's parent: as if it had died and this test process
    /// were the subreaper that adopted the child (its pid is not 1).
    @Test func aChildAdoptedByAnotherProcessEndsAtOnce() throws {
        let result = try run(recordedParent: getppid())
        #expect(result.exit == .exited(code: Drover.orphanExitCode), "\(result)")
        #expect(result.output.isEmpty, "it ran the command: \(result.output)")
    }

    /// The kernel sends the parent-death signal only while the thread that asked for it lives. A
    /// nanny that asked from a thread of Swift's pool outlived its parent once that thread, idle,
    /// ended (20–30 s after start here): so this nanny idles 25 s before its parent dies.
    @Test(.timeLimit(.minutes(2))) func aNannyEndsWithAParentThatDiesLongAfterItStarted() async throws {
        let cluster = try await LocalTestCluster(workers: 0)
        defer { cluster.stop() }
        // A shell is the parent: it starts the nanny, prints its pid (and closes the pipe, so that
        // reading it ends at once), idles, and exits.
        let script =
            "DROVER_EXIT_WITH_PARENT=$$ \"$0\" nanny \"$1\" --nworkers 1 --memory-limit 0 --name late "
            + ">/dev/null 2>&1 & echo $!; exec >/dev/null; sleep 25"
        let output = Pipe()
        let shell = try Spawn.start(
            "/bin/sh", arguments: ["-c", script, TestBinaries.testTasks, cluster.address],
            environment: ProcessInfo.processInfo.environment,
            descriptors: [(output.fileHandleForWriting.fileDescriptor, 1)])
        try output.fileHandleForWriting.close()
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let nanny = try #require(Int32(printed.trimmingCharacters(in: .whitespacesAndNewlines)))
        // Waited for without holding a thread of the pool (other tests run on it meanwhile).
        var status: Int32 = 0
        while waitpid(shell, &status, WNOHANG) == 0 { try await Task.sleep(for: .milliseconds(100)) }
        let ended = await Self.ends(nanny)
        #expect(ended, "the nanny outlived the process that started it")
        if !ended {
            for worker in childProcesses(of: nanny) { kill(worker, SIGKILL) }
            kill(nanny, SIGKILL)
        }
    }

    /// Whether `pid` ends (or is a zombie: an orphan waits for its new parent to reap it) within 10 s.
    private static func ends(_ pid: Int32) async -> Bool {
        func ended() -> Bool {
            guard kill(pid, 0) == 0 else { return true }
            let stat = ProcessTable.text(of: "/proc/\(pid)/stat") ?? ""
            guard let end = stat.lastIndex(of: ")") else { return true }
            return stat[stat.index(after: end)...].split(separator: " ").first == "Z"
        }
        for _ in 0..<500 where !ended() {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return ended()
    }
}
