import DroverClient
import DroverTestKit
import Foundation
import Testing

/// What a child process inherits: only the descriptors it is given (`Spawn` closes the rest), so
/// that no child holds a port its parent listens on.
@Suite(.timeLimit(.minutes(1))) struct InheritedDescriptorTests {
    @Test func aNannysWorkersHoldNoneOfItsListeningSockets() async throws {
        let cluster = try await LocalCluster(
            workers: 1, threadsPerWorker: 1, memoryLimit: "0", dashboard: false, executable: TestBinaries.testTasks)
        defer { cluster.close() }
        let client = try await Client.connect(cluster.address, security: cluster.security, setAsDefault: false)
        try await client.waitForWorkers(1)
        let listening = ProcessTable.listeningSocketInodes()
        let nannyListens = ProcessTable.socketInodes(of: cluster.nannyPID).intersection(listening)
        try #require(!nannyListens.isEmpty, "the nanny (pid \(cluster.nannyPID)) listens on its gRPC port")
        let workers = ProcessTable.children(of: cluster.nannyPID)
        try #require(!workers.isEmpty, "the nanny (pid \(cluster.nannyPID)) has a worker")
        for worker in workers {
            let inherited = ProcessTable.socketInodes(of: worker, from: 3).intersection(nannyListens)
            #expect(
                inherited.isEmpty,
                "worker pid \(worker) holds the sockets \(inherited) that its nanny listens on")
        }
        // The same for the cluster's own children and this (the test) process's listening sockets.
        let ours = ProcessTable.socketInodes(of: getpid()).intersection(listening)
        for child in [cluster.schedulerPID, cluster.nannyPID] {
            let inherited = ProcessTable.socketInodes(of: child, from: 3).intersection(ours)
            #expect(inherited.isEmpty, "pid \(child) holds the sockets \(inherited) that the test process listens on")
        }
        await client.close()
    }
}
