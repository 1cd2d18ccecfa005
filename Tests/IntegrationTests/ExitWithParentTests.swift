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

    /// Starts `command` (`$0`, `$1`… are `arguments`; `descriptors` are the shell's, and so its
    /// child's) in the background from a shell that prints
    /// its pid, idles 25 s and exits; returns that pid once the shell is gone. The kernel sends
    /// the parent-death signal only while the thread that asked for it lives, and a thread of
    /// Swift's pool that asked ended idle 20–30 s after start here: hence the 25 s.
    private static func childOfAShellThatDiesLate(
        _ command: String, arguments: [String], passing descriptors: [(Int32, Int32)] = []
    ) async throws -> Int32 {
        // The shell closes the pipe after the pid, so that reading it ends at once.
        let script = "\(command) & echo $!; exec >/dev/null </dev/null; sleep 25"
        let output = Pipe()
        let shell = try Spawn.start(
            "/bin/sh", arguments: ["-c", script] + arguments, environment: ProcessInfo.processInfo.environment,
            descriptors: [(output.fileHandleForWriting.fileDescriptor, 1)] + descriptors)
        try output.fileHandleForWriting.close()
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let child = try #require(Int32(printed.trimmingCharacters(in: .whitespacesAndNewlines)))
        // Running, as it should while its parent lives (not ended by a failed start).
        try await Task.sleep(for: .seconds(2))
        #expect(kill(child, 0) == 0, "the child ended while its parent lived")
        // Waited for without holding a thread of the pool (other tests run on it meanwhile).
        var status: Int32 = 0
        while waitpid(shell, &status, WNOHANG) == 0 { try await Task.sleep(for: .milliseconds(100)) }
        return child
    }

    /// A nanny that asked for its parent-death signal from a thread of Swift's pool outlived its
    /// parent once that thread ended.
    @Test(.timeLimit(.minutes(2))) func aNannyEndsWithAParentThatDiesLongAfterItStarted() async throws {
        let cluster = try await LocalTestCluster(workers: 0)
        defer { cluster.stop() }
        let nanny = try await Self.childOfAShellThatDiesLate(
            "DROVER_EXIT_WITH_PARENT=$$ \"$0\" nanny \"$1\" --nworkers 1 --memory-limit 0 --name late >/dev/null 2>&1",
            arguments: [TestBinaries.testTasks, cluster.address])
        let ended = await Self.ends(nanny)
        #expect(ended, "the nanny outlived the process that started it")
        if !ended {
            for worker in childProcesses(of: nanny) { kill(worker, SIGKILL) }
            kill(nanny, SIGKILL)
        }
    }

    /// A task process of the processes scheduler dies with its parent even while it waits for a
    /// task (its socket to the parent, held open here, says nothing).
    @Test(.timeLimit(.minutes(2))) func aTaskProcessEndsWithAParentThatDiesLongAfterItStarted() async throws {
        var ends: [Int32] = [-1, -1]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &ends) == 0)
        defer { close(ends[0]) }
        let task = try await Self.childOfAShellThatDiesLate(
            "DROVER_TASK_PROCESS_FD=3 DROVER_PARENT_PID=$$ \"$0\" >/dev/null 2>&1",
            arguments: [TestBinaries.testTasks], passing: [(ends[1], 3)])
        close(ends[1])
        let ended = await Self.ends(task)
        #expect(ended, "the task process outlived the process that started it")
        if !ended { kill(task, SIGKILL) }
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
