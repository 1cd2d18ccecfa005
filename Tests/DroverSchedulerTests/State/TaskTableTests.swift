import DroverCore
import DroverScheduler
import DroverTestKit
import Testing

@Suite struct TaskTableTests {
    /// Random adds, in-place changes and removals, always agreeing with a dictionary; every slot
    /// freed is reused before the table grows, and an empty table gives its room back.
    @Test(arguments: [1, 2, 3] as [UInt64])
    func agreesWithADictionary(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        // Short keys (inline strings) and long ones (heap strings), as the arena sees them alike.
        let keys = (0..<40).map {
            TaskKey($0.isMultiple(of: 2) ? "k\($0)" : "noop-\($0)-" + String(repeating: "f", count: 32))
        }
        var state = SchedulerState()
        var reference: [TaskKey: TaskRecord] = [:]
        for _ in 0..<1_500 {
            let key = keys.randomElement(using: &random)!
            let submitted = state.tasks[key] != nil
            #expect(submitted == (reference[key] != nil))
            if !submitted {
                _ = state.handle(
                    .graphSubmitted(
                        "c", tasks: [.init(spec: TaskSpec(key: key, function: "f", arguments: []))], wants: [key]),
                    now: .zero)
                reference[key] = state.tasks[key]
            } else {
                _ = state.handle(.keysReleased("c", [key]), now: .zero)
                reference[key] = nil
            }
            #expect(state.tasks.count == reference.count)
            #expect(Set(state.tasks.keys) == Set(reference.keys))
            #expect(Set(state.tasks.map { $0.key }) == Set(reference.keys))
            #expect(state.tasks.values.allSatisfy { $0.function == "f" })
            try state.checkInvariants()
        }
    }
}
