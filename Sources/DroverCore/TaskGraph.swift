/// A task graph: tasks by key, like a Dask graph dictionary.
///
/// Built from lazy values (``Delayed/graph``) or from specs directly. ``plan(targets:)`` validates
/// it and orders it for a scheduler.
public struct TaskGraph: Sendable {
    /// One task with what is known of its function in this process.
    public struct Task: Sendable {
        public var spec: TaskSpec
        /// The function, when this process has it (always for lazy values).
        public var function: AnyTaskFunction?
        /// Why the task cannot run, when that was found while building it.
        public var invalidReason: String?

        public init(spec: TaskSpec, function: AnyTaskFunction?, invalidReason: String? = nil) {
            self.spec = spec
            self.function = function
            self.invalidReason = invalidReason
        }
    }

    /// The tasks by key.
    public private(set) var tasks: [TaskKey: Task] = [:]
    /// The first key given to two different tasks, if any; ``plan(targets:)`` reports it.
    private var conflict: GraphError?

    /// Creates an empty graph.
    public init() {}

    /// Creates a graph from specs, taking their functions from `registry`.
    public init(specs: [TaskSpec], registry: TaskRegistry = TaskRegistry()) {
        for spec in specs {
            insert(Task(spec: spec, function: registry[spec.function]))
        }
    }

    /// Creates the graph of everything `roots` need.
    public init(roots: [DelayedNode]) {
        var visited = Set<ObjectIdentifier>()
        var stack = roots
        while let node = stack.popLast() {
            guard visited.insert(ObjectIdentifier(node)).inserted else { continue }
            insert(Task(spec: node.spec, function: node.function, invalidReason: node.invalidReason))
            stack.append(contentsOf: node.dependencies)
        }
    }

    /// Adds a task. A second, different task under the same key is a conflict reported by
    /// ``plan(targets:)``; the same task twice is one task.
    public mutating func insert(_ task: Task) {
        let key = task.spec.key
        if let existing = tasks[key] {
            if existing.spec != task.spec && conflict == nil {
                conflict = GraphError(
                    code: .conflictingKey,
                    message: "Two different tasks have the key '\(key)': "
                        + "'\(existing.spec.function)' and '\(task.spec.function)'.",
                    keys: [key]
                )
            }
            return
        }
        tasks[key] = task
    }

    /// The number of tasks.
    public var count: Int { tasks.count }
}

// MARK: - Planning

extension TaskGraph {
    /// Validates and orders what `targets` need.
    ///
    /// - Throws: ``GraphError`` for a cycle (listing it in order), a dependency no task produces,
    ///   a key given to two different tasks, or a task that could not be built.
    public func plan(targets: [TaskKey]) throws(GraphError) -> GraphPlan {
        if let conflict { throw conflict }
        var planner = Planner(graph: self)
        for target in targets {
            guard tasks[target] != nil else {
                throw GraphError(
                    code: .missingDependency,
                    message: "The requested key '\(target)' is not in the graph.",
                    keys: [target]
                )
            }
            try planner.visit(target)
        }
        return planner.finish(targets: targets)
    }
}

/// Iterative depth-first search over keys: white (unseen), gray (on the stack), black (numbered).
private struct Planner {
    typealias Frame = (key: TaskKey, task: TaskGraph.Task, dependencies: [TaskKey], next: Int)

    let graph: TaskGraph
    var index: [TaskKey: Int] = [:]
    var onStack: [TaskKey: Int] = [:]  // key -> position in the stack
    var tasks: [TaskGraph.Task] = []
    var dependencies: [[Int]] = []

    init(graph: TaskGraph) {
        self.graph = graph
        index.reserveCapacity(graph.count)
        tasks.reserveCapacity(graph.count)
        dependencies.reserveCapacity(graph.count)
    }

    mutating func visit(_ root: TaskKey) throws(GraphError) {
        guard index[root] == nil else { return }
        var stack: [Frame] = []
        try push(root, onto: &stack)
        while !stack.isEmpty {
            let top = stack.count - 1
            guard stack[top].next < stack[top].dependencies.count else {
                let finished = stack.removeLast()
                onStack[finished.key] = nil
                index[finished.key] = tasks.count
                tasks.append(finished.task)
                dependencies.append(finished.dependencies.map { index[$0]! })
                continue
            }
            let dependency = stack[top].dependencies[stack[top].next]
            stack[top].next += 1
            if index[dependency] != nil { continue }
            if let position = onStack[dependency] {
                let cycle = stack[position...].map(\.key) + [dependency]
                throw GraphError(
                    code: .cycle,
                    message: "The graph has a cycle: " + cycle.map { "'\($0)'" }.joined(separator: " -> ") + ".",
                    keys: cycle
                )
            }
            guard graph.tasks[dependency] != nil else {
                throw GraphError(
                    code: .missingDependency,
                    message:
                        "Task '\(stack[top].key)' depends on '\(dependency)', which no task in the graph produces.",
                    keys: [stack[top].key, dependency]
                )
            }
            try push(dependency, onto: &stack)
        }
    }

    private mutating func push(_ key: TaskKey, onto stack: inout [Frame]) throws(GraphError) {
        let task = graph.tasks[key]!
        if let reason = task.invalidReason {
            throw GraphError(code: .invalidTask, message: "Task '\(key)' cannot run: \(reason)", keys: [key])
        }
        onStack[key] = stack.count
        stack.append((key, task, task.spec.dependencies, 0))
    }

    func finish(targets: [TaskKey]) -> GraphPlan {
        var adjacency = GraphPlan.Adjacency()
        var references = GraphPlan.Adjacency()
        for (task, needs) in zip(tasks, dependencies) {
            adjacency.appendList(needs)
            var keys: [Int] = []
            for argument in task.spec.arguments {
                argument.forEachKey { keys.append(index[$0]!) }
            }
            references.appendList(keys)
        }
        return GraphPlan(
            tasks: tasks,
            dependencies: adjacency,
            references: references,
            targets: targets.map { index[$0]! },
            index: index
        )
    }
}
