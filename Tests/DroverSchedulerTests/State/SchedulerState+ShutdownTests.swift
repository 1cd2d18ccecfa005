import DroverCore
import DroverScheduler
import Testing

/// `client.shutdown()`: each nanny once, each worker without one closed, then the scheduler stops.
@Suite struct SchedulerStateShutdownTests {
    @Test func aShutdownStopsEachNannyOnceClosesUnsupervisedWorkersThenStopsTheScheduler() {
        var harness = Harness()
        _ = harness.handle(.workerJoined("w1", address: "tcp://w1", threads: 1, memoryLimit: 0, nanny: "nanny:1"))
        _ = harness.handle(.workerJoined("w2", address: "tcp://w2", threads: 1, memoryLimit: 0, nanny: "nanny:1"))
        _ = harness.join("w3")
        let actions = harness.handle(.shutdownRequested("c1"))
        let reason = "shutdown requested by client c1"
        #expect(
            actions == [
                .stopNanny("nanny:1", reason: reason), .close("w3", reason: reason), .stopScheduler(reason: reason),
            ])
    }
}
