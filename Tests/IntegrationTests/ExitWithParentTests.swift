import DroverCore
import DroverLocal
import DroverTestKit
import Foundation
import Testing

/// A child told to die with its parent (a nanny's worker, a local cluster's scheduler) that finds
/// its parent already gone must end at once, whoever adopted it: pid 1, or a subreaper with any
/// other pid (a container's init, a service manager, a test harness).
@Suite(.timeLimit(.minutes(1))) struct ExitWithParentTests {
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
}
