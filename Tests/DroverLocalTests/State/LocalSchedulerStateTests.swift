import DroverCore
import DroverLocal
import Testing

@Suite struct LocalSchedulerStateTests {
    typealias Action = LocalSchedulerState.Action

    /// A plan from specs: `deps` lists each task's dependencies by key.
    func plan(_ tasks: KeyValuePairs<TaskKey, [TaskKey]>, targets: [TaskKey]) throws -> GraphPlan {
        let specs = tasks.map { key, dependencies in
            TaskSpec(key: key, function: "f", arguments: dependencies.map { .key($0) })
        }
        return try TaskGraph(specs: specs).plan(targets: targets)
    }

    /// Feeds an event, checks invariants, returns the actions.
    func handle(_ state: inout LocalSchedulerState, _ event: LocalSchedulerState.Event) throws -> [Action] {
        let actions = state.handle(event)
        try state.checkInvariants()
        return actions
    }

    @Test func runsNoMoreTasksThanSlots() throws {
        let plan = try plan(["a": [], "b": [], "c": [], "d": ["a", "b", "c"]], targets: ["d"])
        let (a, b, c, d) = (plan.index["a"]!, plan.index["b"]!, plan.index["c"]!, plan.index["d"]!)
        var state = LocalSchedulerState(plan: plan, slots: 2)
        #expect(try handle(&state, .started) == [.run(a), .run(b)])
        #expect(state.runningCount == 2)
        #expect(try handle(&state, .taskFinished(a)) == [.run(c)])
        #expect(try handle(&state, .taskFinished(c)) == [])
        #expect(try handle(&state, .taskFinished(b)) == [.run(d)])
        #expect(try handle(&state, .taskFinished(d)) == [.release(a), .release(b), .release(c), .finish])
        #expect(state.phase == .finished)
    }

    @Test func readyTasksRunInPlanOrder() throws {
        // Depth-first: the whole first chain is numbered before the second.
        let plan = try plan(["root": ["a2", "b2"], "a2": ["a1"], "a1": [], "b2": ["b1"], "b1": []], targets: ["root"])
        var state = LocalSchedulerState(plan: plan, slots: 1)
        var order: [TaskKey] = []
        var pending = try handle(&state, .started)
        while let action = pending.first {
            pending.removeFirst()
            if case .run(let task) = action {
                order.append(plan.tasks[task].spec.key)
                pending += try handle(&state, .taskFinished(task))
            }
        }
        #expect(order == ["a1", "a2", "b1", "b2", "root"])
    }

    @Test func resultsAreReleasedWhenTheLastDependentFinishes() throws {
        let plan = try plan(["a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]], targets: ["d"])
        let (a, b, c, d) = (plan.index["a"]!, plan.index["b"]!, plan.index["c"]!, plan.index["d"]!)
        var state = LocalSchedulerState(plan: plan, slots: 4)
        #expect(try handle(&state, .started) == [.run(a)])
        #expect(try handle(&state, .taskFinished(a)) == [.run(b), .run(c)])
        #expect(try handle(&state, .taskFinished(b)) == [])
        #expect(try handle(&state, .taskFinished(c)) == [.release(a), .run(d)])
        #expect(try handle(&state, .taskFinished(d)) == [.release(b), .release(c), .finish])
    }

    @Test func targetsAreNeverReleased() throws {
        let plan = try plan(["a": [], "b": ["a"]], targets: ["a", "b"])
        let (a, b) = (plan.index["a"]!, plan.index["b"]!)
        var state = LocalSchedulerState(plan: plan, slots: 1)
        #expect(try handle(&state, .started) == [.run(a)])
        #expect(try handle(&state, .taskFinished(a)) == [.run(b)])
        #expect(try handle(&state, .taskFinished(b)) == [.finish])
    }

    @Test func aFailureStopsNewWork() throws {
        let plan = try plan(["a": [], "b": [], "c": [], "d": ["a", "b", "c"]], targets: ["d"])
        let (a, b) = (plan.index["a"]!, plan.index["b"]!)
        var state = LocalSchedulerState(plan: plan, slots: 2)
        _ = try handle(&state, .started)
        let error = TaskError(kind: .failed, key: "a", function: "f", message: "boom")
        #expect(try handle(&state, .taskFailed(a, error)) == [.fail(error)])
        #expect(state.phase == .failed)
        // The task still running when the other failed finishes: nothing new starts.
        #expect(try handle(&state, .taskFinished(b)) == [])
        #expect(state.runningCount == 0)
    }

    @Test func outOfOrderEventsAreIgnored() throws {
        let plan = try plan(["a": []], targets: ["a"])
        var state = LocalSchedulerState(plan: plan, slots: 1)
        #expect(try handle(&state, .taskFinished(0)) == [])
        #expect(state.phase == .notStarted)
        #expect(try handle(&state, .started) == [.run(0)])
        #expect(try handle(&state, .started) == [])
        #expect(try handle(&state, .taskFinished(0)) == [.finish])
        #expect(try handle(&state, .taskFinished(0)) == [])
    }

    @Test(arguments: [1, 2, 3, 8])
    func everyTaskRunsExactlyOnceInAWideGraph(slots: Int) throws {
        var specs = (0..<20).map { TaskSpec(key: TaskKey("leaf-\($0)"), function: "f", arguments: []) }
        specs.append(TaskSpec(key: "root", function: "f", arguments: specs.map { .key($0.key) }))
        let plan = try TaskGraph(specs: specs).plan(targets: ["root"])
        var state = LocalSchedulerState(plan: plan, slots: slots)
        var running: [Int] = []
        var ran: [Int] = []
        var released = 0
        var actions = try handle(&state, .started)
        while true {
            for action in actions {
                switch action {
                case .run(let task): running.append(task)
                case .release: released += 1
                case .finish, .fail: break
                }
            }
            #expect(running.count <= slots)
            guard !running.isEmpty else { break }
            let task = running.removeFirst()
            ran.append(task)
            actions = try handle(&state, .taskFinished(task))
        }
        #expect(ran.sorted() == Array(0..<21))
        #expect(released == 20)
        #expect(state.phase == .finished)
    }
}
