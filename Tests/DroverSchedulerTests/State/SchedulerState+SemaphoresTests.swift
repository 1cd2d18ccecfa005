import DroverCore
import DroverScheduler
import Testing

/// Dask's `Semaphore` and `Lock`: at most `maxLeases` holders, waiters served oldest first, a
/// departed client's leases given back.
@Suite struct SchedulerStateSemaphoresTests {
    private func granted(_ actions: [SchedulerState.Action]) -> [String] {
        actions.compactMap {
            if case .notify(let client, .variable(let request, _, _)) = $0 { "\(client) \(request)" } else { nil }
        }
    }

    @Test func leasesAreBoundedAndGoToTheOldestWaiter() {
        var harness = Harness()
        #expect(
            granted(harness.handle(.semaphoreAcquireRequested("c1", name: "s", maxLeases: 2, request: 1))) == ["c1 1"])
        #expect(
            granted(harness.handle(.semaphoreAcquireRequested("c2", name: "s", maxLeases: 2, request: 1))) == ["c2 1"])
        #expect(granted(harness.handle(.semaphoreAcquireRequested("c3", name: "s", maxLeases: 2, request: 1))).isEmpty)
        #expect(granted(harness.handle(.semaphoreAcquireRequested("c4", name: "s", maxLeases: 2, request: 5))).isEmpty)
        #expect(granted(harness.handle(.semaphoreReleased("c3", name: "s"))).isEmpty)  // holds none
        #expect(granted(harness.handle(.semaphoreReleased("c1", name: "s"))) == ["c3 1"])
        #expect(granted(harness.handle(.clientDisconnected("c2"))) == ["c4 5"])
        #expect(harness.state.semaphores["s"]?.leased == 2)
        _ = harness.handle(.semaphoreReleased("c3", name: "s"))
        _ = harness.handle(.semaphoreReleased("c4", name: "s"))
        #expect(harness.state.semaphores["s"] == nil)
    }
}
