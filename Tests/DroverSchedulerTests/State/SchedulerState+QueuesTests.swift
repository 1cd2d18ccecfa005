import DroverCore
import DroverScheduler
import Foundation
import Testing

/// Dask's `Queue`: values go oldest first, each to one getter; a get before any put waits, and
/// the oldest waiting get takes the next value.
@Suite struct SchedulerStateQueuesTests {
    @Test func valuesGoOldestFirstEachToOneGetter() {
        var harness = Harness()
        func value(_ text: String) -> Payload { Payload(encoding: .json, data: Data(text.utf8), typeName: "Int") }
        #expect(harness.handle(.queueRequested("c1", name: "q", request: 1)).isEmpty)
        #expect(harness.handle(.queueRequested("c2", name: "q", request: 9)).isEmpty)
        #expect(
            harness.handle(.queuePut("c3", name: "q", value("1")))
                == [.notify("c1", .variable(request: 1, name: "q", value("1")))])
        _ = harness.handle(.clientDisconnected("c2"))
        #expect(harness.handle(.queuePut("c3", name: "q", value("2"))).isEmpty)
        #expect(harness.handle(.queuePut("c3", name: "q", value("3"))).isEmpty)
        #expect(harness.state.queues["q"]?.count == 2)
        #expect(
            harness.handle(.queueRequested("c1", name: "q", request: 2))
                == [.notify("c1", .variable(request: 2, name: "q", value("2")))])
        #expect(
            harness.handle(.queueRequested("c1", name: "q", request: 3))
                == [.notify("c1", .variable(request: 3, name: "q", value("3")))])
        #expect(harness.state.queues["q"] == nil)
    }
}
