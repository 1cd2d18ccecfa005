import DroverCore
import DroverScheduler
import Foundation
import Testing

/// Dask's `timeout=` on `Variable.get`, `Queue.get`, `Semaphore.acquire` and `Event.wait`: a
/// request still waiting at its deadline is answered `timedOut` on the next clock tick and dropped,
/// so it takes no later value or lease. Also `Queue.qsize` and `Variable.delete`.
@Suite struct SchedulerStateTimeoutsTests {
    static func value(_ text: String) -> Payload { Payload(encoding: .json, data: Data(text.utf8), typeName: "Int") }

    @Test func aTimedOutQueueGetTakesNoLaterValue() {
        var harness = Harness()
        #expect(harness.handle(.queueRequested("c1", name: "q", request: 1, timeout: .seconds(1))).isEmpty)
        #expect(harness.handle(.queueRequested("c2", name: "q", request: 5)).isEmpty)
        harness.now = .milliseconds(999)
        #expect(harness.handle(.clockTicked).isEmpty)
        harness.now = .seconds(1)
        #expect(harness.handle(.clockTicked) == [.notify("c1", .timedOut(request: 1, name: "q"))])
        // The value goes to the request still waiting, not to the one that gave up.
        #expect(
            harness.handle(.queuePut("c3", name: "q", Self.value("7")))
                == [.notify("c2", .variable(request: 5, name: "q", Self.value("7")))])
        #expect(harness.handle(.queuePut("c3", name: "q", Self.value("8"))).isEmpty)
        #expect(harness.state.queues["q"] == [Self.value("8")])
    }

    @Test func aRequestAnsweredBeforeItsDeadlineNeverTimesOut() {
        var harness = Harness()
        _ = harness.handle(.variableRequested("c1", name: "x", request: 1, timeout: .seconds(1)))
        harness.now = .milliseconds(500)
        #expect(
            harness.handle(.variableSet("c2", name: "x", Self.value("1")))
                == [.notify("c1", .variable(request: 1, name: "x", Self.value("1")))])
        harness.now = .seconds(2)
        #expect(harness.handle(.clockTicked).isEmpty)
        // Answered at once: there is nothing to time out.
        #expect(
            harness.handle(.variableRequested("c1", name: "x", request: 2, timeout: .zero))
                == [.notify("c1", .variable(request: 2, name: "x", Self.value("1")))])
        #expect(harness.handle(.clockTicked).isEmpty)
    }

    @Test func aTimedOutAcquireIsGrantedNoLease() {
        var harness = Harness()
        #expect(
            harness.handle(.semaphoreAcquireRequested("c1", name: "s", maxLeases: 1, request: 1))
                == [.notify("c1", .variable(request: 1, name: "s", Self.granted))])
        #expect(
            harness.handle(.semaphoreAcquireRequested("c2", name: "s", maxLeases: 1, request: 1, timeout: .seconds(1)))
                .isEmpty)
        #expect(harness.handle(.semaphoreAcquireRequested("c3", name: "s", maxLeases: 1, request: 4)).isEmpty)
        harness.now = .seconds(1)
        #expect(harness.handle(.clockTicked) == [.notify("c2", .timedOut(request: 1, name: "s"))])
        #expect(harness.state.semaphores["s"]?.waiting.map(\.client) == ["c3"])
        // The lease given back goes to the acquire still waiting.
        #expect(
            harness.handle(.semaphoreReleased("c1", name: "s"))
                == [.notify("c3", .variable(request: 4, name: "s", Self.granted))])
        #expect(harness.state.semaphores["s"]?.holders == ["c3": 1])
    }

    @Test func aTimedOutEventWaitIsNotAnsweredBySet() {
        var harness = Harness()
        _ = harness.handle(.eventWaited("c1", name: "e", request: 1, immediate: false, timeout: .seconds(1)))
        harness.now = .seconds(3)
        #expect(harness.handle(.clockTicked) == [.notify("c1", .timedOut(request: 1, name: "e"))])
        #expect(harness.handle(.eventUpdated("c2", name: "e", isSet: true)).isEmpty)
    }

    @Test func aDepartedClientsDeadlinesGoWithIt() {
        var harness = Harness()
        _ = harness.handle(.queueRequested("c1", name: "q", request: 1, timeout: .seconds(1)))
        _ = harness.handle(.clientDisconnected("c1"))
        harness.now = .seconds(2)
        #expect(harness.handle(.clockTicked).isEmpty)
    }

    @Test func qsizeCountsTheValuesWaiting() {
        var harness = Harness()
        #expect(
            harness.handle(.queueSizeRequested("c1", name: "q", request: 1))
                == [.notify("c1", .variable(request: 1, name: "q", try! 0.encodePayload()))])
        _ = harness.handle(.queuePut("c2", name: "q", Self.value("5")))
        _ = harness.handle(.queuePut("c2", name: "q", Self.value("6")))
        #expect(
            harness.handle(.queueSizeRequested("c1", name: "q", request: 2))
                == [.notify("c1", .variable(request: 2, name: "q", try! 2.encodePayload()))])
    }

    @Test func aDeletedVariableWaitsForTheNextSet() {
        var harness = Harness()
        _ = harness.handle(.variableSet("c1", name: "x", Self.value("1")))
        _ = harness.handle(.variableDeleted("c1", name: "x"))
        #expect(harness.state.variables["x"] == nil)
        #expect(harness.handle(.variableRequested("c2", name: "x", request: 1)).isEmpty)
        #expect(
            harness.handle(.variableSet("c1", name: "x", Self.value("2")))
                == [.notify("c2", .variable(request: 1, name: "x", Self.value("2")))])
    }

    static let granted = try! true.encodePayload()
}
