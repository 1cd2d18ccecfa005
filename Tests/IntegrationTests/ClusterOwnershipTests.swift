import DroverCore
import DroverLocal
import DroverNanny
import DroverTestKit
import Foundation
import Testing

/// `Client.local` returns a client that owns its cluster, as Dask's `Client()` does: dropping the
/// cluster's handle keeps it running, `close()` stops it, and an owner that dies by any signal
/// leaves no process and no cgroup behind (`drover-test-owner`).
@Suite(.timeLimit(.minutes(1))) struct ClusterOwnershipTests {
    @Test func aDroppedHandleKeepsTheClusterAndCloseStopsIt() async throws {
        let run = try await CarelessRun(binary: "drover-test-owner", arguments: ["drop"])
        defer { run.removeFiles() }
        try #require(run.finished, "the program did not finish; its log:\n\(run.log)")
        #expect(run.output == ["RESULT 3", "RUNNING AFTER CLOSE []"], "log:\n\(run.log)")
        #expect(run.exit == .exited(code: 0))
        #expect(run.survivors.isEmpty, "processes left running: \(run.survivors)")
    }

    @Test(arguments: [SIGTERM, SIGKILL])
    func anOwnerKilledBySignalLeavesNoProcessOrCgroup(signal: Int32) async throws {
        let marker = "DROVER_TEST_OWNER=\(UUID())"
        var environment = ProcessInfo.processInfo.environment
        environment["DROVER_TEST_OWNER"] = String(marker.dropFirst("DROVER_TEST_OWNER=".count))
        let owner = try ProcessHarness(
            TestBinaries.path("drover-test-owner"), [cgroupsWritable ? "256MiB" : "0"], environment: environment,
            name: "owner")
        let ready = try await owner.line(startingWith: "READY ")
        let fields = ready.split(separator: " ")
        let nanny = try #require(fields.count == 2 ? Int32(fields[1]) : nil, "\(ready); log:\n\(owner.log())")
        // The owner, its scheduler and nanny, and the nanny's two workers.
        let started = ProcessTable.processIDs(withEnvironmentEntry: marker)
        #expect(started.count >= 5, "processes of the owner: \(started)")

        if signal == SIGKILL {
            owner.stop()
        } else {
            #expect(await owner.terminate().graceful, "the owner did not exit on SIGTERM")
        }
        var left = ProcessTable.processIDs(withEnvironmentEntry: marker)
        for _ in 0..<500 where !left.isEmpty {
            try await Task.sleep(for: .milliseconds(20))
            left = ProcessTable.processIDs(withEnvironmentEntry: marker)
        }
        #expect(left.isEmpty, "processes left after signal \(signal) to the owner: \(left)")
        for pid in left { kill(pid, SIGKILL) }
        if cgroupsWritable, let controller = try? CgroupController.find() {
            let cgroups = ((try? FileManager.default.contentsOfDirectory(atPath: controller.directory)) ?? [])
                .filter { $0.hasPrefix("drover-\(nanny)-") }
            #expect(cgroups.isEmpty, "cgroups left behind: \(cgroups)")
        }
    }
}
