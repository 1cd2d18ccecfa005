import DroverCore
import Testing

@Suite struct TaskGraphTests {
    func spec(_ key: TaskKey, _ dependencies: TaskKey...) -> TaskSpec {
        TaskSpec(key: key, function: "f", arguments: dependencies.map { .key($0) })
    }

    @Test func aCycleIsReportedInOrder() throws {
        let graph = TaskGraph(specs: [spec("a", "b"), spec("b", "c"), spec("c", "a")])
        let error = try #require(throws: GraphError.self) { try graph.plan(targets: ["a"]) }
        #expect(error.code == .cycle)
        #expect(error.keys == ["a", "b", "c", "a"])
        #expect(error.message == "The graph has a cycle: 'a' -> 'b' -> 'c' -> 'a'.")
    }

    @Test func aTaskNeedingItselfIsACycle() throws {
        let error = try #require(throws: GraphError.self) {
            try TaskGraph(specs: [spec("a", "a")]).plan(targets: ["a"])
        }
        #expect(error.code == .cycle)
        #expect(error.keys == ["a", "a"])
    }

    @Test func aCycleBelowTheTargetIsFound() throws {
        let graph = TaskGraph(specs: [spec("top", "x"), spec("x", "y"), spec("y", "z"), spec("z", "x")])
        let error = try #require(throws: GraphError.self) { try graph.plan(targets: ["top"]) }
        #expect(error.keys == ["x", "y", "z", "x"])
    }

    @Test func aMissingDependencyNamesBothKeys() throws {
        let error = try #require(throws: GraphError.self) {
            try TaskGraph(specs: [spec("a", "ghost")]).plan(targets: ["a"])
        }
        #expect(error.code == .missingDependency)
        #expect(error.keys == ["a", "ghost"])
        #expect(error.message.contains("'a' depends on 'ghost'"))
    }

    @Test func aMissingTargetIsReported() throws {
        let error = try #require(throws: GraphError.self) { try TaskGraph(specs: [spec("a")]).plan(targets: ["b"]) }
        #expect(error.code == .missingDependency)
    }

    @Test func twoTasksUnderOneKeyConflict() throws {
        let graph = TaskGraph(specs: [spec("a"), TaskSpec(key: "a", function: "g", arguments: [])])
        let error = try #require(throws: GraphError.self) { try graph.plan(targets: ["a"]) }
        #expect(error.code == .conflictingKey)
    }

    @Test func theSameTaskTwiceIsOneTask() throws {
        let shared = inc.delayed(1)
        let graph = add.delayed(shared, shared).graph
        #expect(graph.count == 2)
        let plan = try graph.plan(targets: [add.delayed(shared, shared).key])
        #expect(plan.dependencies[plan.index[add.delayed(shared, shared).key]!] == [plan.index[shared.key]!])
    }

    @Test func planOrdersDependenciesFirstAndCullsTheRest() throws {
        let graph = TaskGraph(specs: [
            spec("d", "b", "c"), spec("b", "a"), spec("c", "a"), spec("a"), spec("unused", "a"),
        ])
        let plan = try graph.plan(targets: ["d"])
        #expect(plan.count == 4)
        #expect(plan.index["unused"] == nil)
        for task in 0..<plan.count {
            for dependency in plan.dependencies[task] { #expect(dependency < task) }
        }
        #expect(plan.targets == [plan.index["d"]!])
        #expect(Set(plan.dependents[plan.index["a"]!]) == [plan.index["b"]!, plan.index["c"]!])
    }

    @Test func planIsDepthFirst() throws {
        // Two independent chains: depth-first numbering finishes one chain before starting the other.
        let graph = TaskGraph(specs: [
            spec("root", "a2", "b2"), spec("a2", "a1"), spec("a1"), spec("b2", "b1"), spec("b1"),
        ])
        let plan = try graph.plan(targets: ["root"])
        #expect(plan.tasks.map(\.spec.key) == ["a1", "a2", "b1", "b2", "root"])
    }

    @Test func delayedGraphsHoldEveryDependency() {
        let leaves = (0..<8).map { inc.delayed($0) }
        let graph = total.delayed(leaves).graph
        #expect(graph.count == 9)
        for leaf in leaves { #expect(graph.tasks[leaf.key]?.function?.name == "inc") }
    }

    @Test func longChainsBuildAndPlanWithoutRecursion() throws {
        var last = inc.delayed(0)
        for _ in 0..<50_000 { last = inc.delayed(last) }
        let plan = try last.graph.plan(targets: [last.key])
        #expect(plan.count == 50_001)
    }

    @Test func planningLazyValuesMergesRepeatedCalls() throws {
        // Two separate objects for the same pure call are one task.
        let graph = add.delayed(inc.delayed(1), inc.delayed(1))
        let plan = try GraphPlan(roots: [graph.node])
        #expect(plan.count == 2)
        let root = plan.index[graph.key]!
        #expect(Array(plan.dependencies[root]) == [plan.index[inc.delayed(1).key]!])
        // Each argument still refers to its task, in order.
        #expect(Array(plan.references[root]) == [0, 0])
    }

    @Test func planningLazyValuesRejectsTwoTasksUnderOneKey() throws {
        let first = inc.delayed(1, key: "x")
        let second = inc.delayed(first, key: "x")
        let error = try #require(throws: GraphError.self) { try GraphPlan(roots: [second.node]) }
        #expect(error.code == .conflictingKey)
    }

    @Test func lazyAndSpecPlansAgree() throws {
        let leaves = (0..<5).map { inc.delayed($0) }
        let root = add.delayed(total.delayed(leaves), leaves[2])
        let lazy = try GraphPlan(roots: [root.node])
        let fromSpecs = try root.graph.plan(targets: [root.key])
        #expect(lazy.tasks.map(\.spec.key) == fromSpecs.tasks.map(\.spec.key))
        #expect(lazy.references.indices == fromSpecs.references.indices)
        #expect(lazy.dependents.indices == fromSpecs.dependents.indices)
    }
}
