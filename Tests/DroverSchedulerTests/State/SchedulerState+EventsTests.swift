import DroverCore
import DroverScheduler
import Testing

/// Dask's `Event`: waits are answered when it is set; `is_set` is answered at once; clear resets.
@Suite struct SchedulerStateEventsTests {
    private func answers(_ actions: [SchedulerState.Action]) -> [String] {
        actions.compactMap {
            if case .notify(let client, .variable(let request, _, let value)) = $0 {
                "\(client) \(request) \((try? Bool.decode(payload: value)) ?? false)"
            } else {
                nil
            }
        }
    }

    @Test func waitsAreAnsweredWhenTheEventIsSet() {
        var harness = Harness()
        #expect(answers(harness.handle(.eventWaited("c1", name: "e", request: 1, immediate: false))).isEmpty)
        #expect(answers(harness.handle(.eventWaited("c2", name: "e", request: 2, immediate: true))) == ["c2 2 false"])
        #expect(answers(harness.handle(.eventUpdated("c3", name: "e", isSet: true))) == ["c1 1 true"])
        #expect(answers(harness.handle(.eventWaited("c2", name: "e", request: 3, immediate: false))) == ["c2 3 true"])
        _ = harness.handle(.eventUpdated("c3", name: "e", isSet: false))
        #expect(answers(harness.handle(.eventWaited("c2", name: "e", request: 4, immediate: true))) == ["c2 4 false"])
        #expect(answers(harness.handle(.eventWaited("c2", name: "e", request: 5, immediate: false))).isEmpty)
        _ = harness.handle(.clientDisconnected("c2"))
        #expect(answers(harness.handle(.eventUpdated("c3", name: "e", isSet: true))).isEmpty)
    }
}
