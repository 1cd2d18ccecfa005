import DroverCore
import DroverScheduler
import Foundation
import Testing

/// Dask's `Variable`: a request before the set waits for it; the last set wins; a departed
/// client's requests are dropped.
@Suite struct SchedulerStateVariablesTests {
    @Test func aRequestWaitsForTheSetAndTheLastSetWins() {
        var harness = Harness()
        let one = Payload(encoding: .json, data: Data("1".utf8), typeName: "Int")
        let two = Payload(encoding: .json, data: Data("2".utf8), typeName: "Int")
        #expect(harness.handle(.variableRequested("c1", name: "x", request: 7)).isEmpty)
        #expect(harness.handle(.variableRequested("c2", name: "x", request: 1)).isEmpty)
        _ = harness.handle(.clientDisconnected("c2"))
        #expect(
            harness.handle(.variableSet("c3", name: "x", one)) == [.notify("c1", .variable(request: 7, name: "x", one))]
        )
        _ = harness.handle(.variableSet("c3", name: "x", two))
        #expect(
            harness.handle(.variableRequested("c2", name: "x", request: 2))
                == [.notify("c2", .variable(request: 2, name: "x", two))])
        #expect(harness.state.variables == ["x": two])
    }
}
