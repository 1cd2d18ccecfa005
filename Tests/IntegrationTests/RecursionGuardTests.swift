import DroverCore
import DroverLocal
import DroverTestKit
import Foundation
import Testing

/// Careless users' programs (`drover-test-forgets-bootstrap`, `drover-test-forgets-roles`) re-run
/// their own `main` in every child. Each must end with an error that says what to call, having
/// started only a handful of processes, and leave none behind.
@Suite(.timeLimit(.minutes(1))) struct RecursionGuardTests {
    /// The most processes that may run a careless program's main: the program itself and one round
    /// of children (four task processes, or a scheduler and a nanny). Without the guard each child
    /// starts as many again, and the count grows without bound.
    static let mostMainRuns = 5

    @Test func aProgramThatForgetsBootstrapIsToldToCallIt() async throws {
        let run = try await CarelessRun(binary: "drover-test-forgets-bootstrap")
        defer { run.removeFiles() }
        try #require(run.finished, "the program did not finish; its log:\n\(run.log)")
        let error = try #require(run.output.first { $0.hasPrefix("ERROR ") }, "output: \(run.output)")
        #expect(error.contains("ran the program's main again instead of serving tasks"), "\(error)")
        #expect(error.contains("call `await Drover.bootstrap(registry)` first thing in main"), "\(error)")
        #expect(run.exit == .exited(code: 1))
        #expect(run.mainRuns.count <= Self.mostMainRuns, "main ran in \(run.mainRuns.count) processes")
        #expect(run.survivors.isEmpty, "processes left running: \(run.survivors)")
    }

    @Test func aProgramThatStartsALocalClusterWithoutRoutingItsRolesIsToldHow() async throws {
        let run = try await CarelessRun(binary: "drover-test-forgets-roles")
        defer { run.removeFiles() }
        try #require(run.finished, "the program did not finish; its log:\n\(run.log)")
        let error = try #require(run.output.first { $0.hasPrefix("ERROR ") }, "output: \(run.output)")
        #expect(error.contains("ran the program's main again instead of serving as the scheduler"), "\(error)")
        #expect(error.contains("call `await DroverCommand.bootstrap(registry)` (module DroverCLI)"), "\(error)")
        #expect(run.exit == .exited(code: 1))
        #expect(run.mainRuns.count <= Self.mostMainRuns, "main ran in \(run.mainRuns.count) processes")
        #expect(run.survivors.isEmpty, "processes left running: \(run.survivors)")
    }

    /// `Drover.bootstrap` serves only the processes scheduler's workers: started as a local
    /// cluster's scheduler, it refuses at once and the parent names the call that serves every role.
    @Test func aProgramThatCallsOnlyDroverBootstrapIsToldToCallTheCommandsBootstrap() async throws {
        let run = try await CarelessRun(
            binary: "drover-test-forgets-roles", environment: ["DROVER_TEST_BOOTSTRAP": "local"])
        defer { run.removeFiles() }
        try #require(run.finished, "the program did not finish; its log:\n\(run.log)")
        let error = try #require(run.output.first { $0.hasPrefix("ERROR ") }, "output: \(run.output)")
        #expect(error.contains("instead of serving as the scheduler"), "\(error)")
        #expect(error.contains("call `await DroverCommand.bootstrap(registry)` (module DroverCLI)"), "\(error)")
        #expect(run.exit == .exited(code: 1))
        #expect(run.mainRuns.count <= Self.mostMainRuns, "main ran in \(run.mainRuns.count) processes")
        #expect(run.survivors.isEmpty, "processes left running: \(run.survivors)")
    }
}

/// One run of a careless program, with a marker in its environment that all its descendants
/// inherit: `DROVER_TEST_MAIN_RUNS` names the file where each run of its main appends its pid.
struct CarelessRun {
    /// Whether its stdout reached end of file (it and every child holding stdout exited) in time.
    var finished: Bool
    var output: [String]
    var exit: DroverCore.ExitStatus
    /// The pids that ran the program's main.
    var mainRuns: [String]
    /// Processes with the marker still running after the program ended (killed since).
    var survivors: [pid_t]
    var log: String
    private var files: [String]

    /// Runs `binary` until its stdout closes, or for at most 30 seconds; then kills whatever
    /// carries its marker.
    init(binary: String, arguments: [String] = [], environment extra: [String: String] = [:]) async throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("drover-\(binary)-\(UUID())").path
        let runsPath = base + ".runs"
        let logPath = base + ".log"
        files = [runsPath, logPath]
        let marker = "DROVER_TEST_MAIN_RUNS=\(runsPath)"
        var environment = ProcessInfo.processInfo.environment
        environment["DROVER_TEST_MAIN_RUNS"] = runsPath
        environment.merge(extra) { _, new in new }
        let log = open(logPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
        var pipeFDs: [Int32] = [-1, -1]
        guard log >= 0, null >= 0, pipe(&pipeFDs) == 0 else {
            throw HarnessError(description: "cannot set up the descriptors of \(binary)")
        }
        for fd in pipeFDs { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        defer {
            close(log)
            close(null)
        }
        let pid: pid_t
        do {
            pid = try Spawn.start(
                TestBinaries.path(binary), arguments: arguments, environment: environment,
                descriptors: [(null, 0), (pipeFDs[1], 1), (log, 2)])
        } catch {
            close(pipeFDs[0])
            close(pipeFDs[1])
            throw error
        }
        close(pipeFDs[1])
        let lines = ProcessHarness.lines(of: pipeFDs[0])
        let collected = await withTaskGroup(of: [String]?.self) { group in
            group.addTask {
                var all: [String] = []
                for await line in lines { all.append(line) }
                return Task.isCancelled ? nil : all
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(30))
                return nil
            }
            let first = await group.next()!
            group.cancelAll()
            return first
        }
        finished = collected != nil
        output = collected ?? []
        if !finished { kill(pid, SIGKILL) }
        exit = DroverCore.ExitStatus(waitStatus: Spawn.wait(pid))
        survivors = ProcessTable.processIDs(withEnvironmentEntry: marker)
        // A runaway program (the bug this guards against) may still be multiplying: kill until none is left.
        for _ in 0..<100 {
            let running = ProcessTable.processIDs(withEnvironmentEntry: marker)
            if running.isEmpty { break }
            for pid in running { kill(pid, SIGKILL) }
        }
        mainRuns = ((try? String(contentsOfFile: runsPath, encoding: .utf8)) ?? "").split(separator: "\n")
            .map(String.init)
        self.log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    }

    func removeFiles() {
        for file in files { try? FileManager.default.removeItem(atPath: file) }
    }

}
