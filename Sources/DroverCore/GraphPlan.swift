/// A validated graph, culled to what its targets need, with tasks numbered in a topological,
/// depth-first order: a task's index is larger than its dependencies' and serves as its priority
/// (lower runs first), which keeps few intermediate results alive at once.
///
/// Edges are stored flat (compressed rows), so a plan of n tasks costs a handful of allocations,
/// not several per task.
public struct GraphPlan: Sendable {
    /// Lists of task indices, one list per task, stored back to back.
    public struct Adjacency: Sendable {
        /// Where each task's list starts in ``indices``; one more entry than tasks.
        public private(set) var offsets: [Int] = [0]
        /// Every list, back to back.
        public private(set) var indices: [Int] = []

        /// The list of task `task`.
        public subscript(task: Int) -> ArraySlice<Int> {
            indices[offsets[task]..<offsets[task + 1]]
        }

        /// The length of task `task`'s list.
        public func count(of task: Int) -> Int { offsets[task + 1] - offsets[task] }

        mutating func appendList(_ list: some Sequence<Int>) {
            indices.append(contentsOf: list)
            offsets.append(indices.count)
        }

        mutating func reserve(lists: Int, entries: Int) {
            offsets.reserveCapacity(lists + 1)
            indices.reserveCapacity(entries)
        }

        /// The transpose: for each task, the tasks whose lists hold it (each once per mention).
        func inverted(count: Int) -> Adjacency {
            var counts = [Int](repeating: 0, count: count + 1)
            for index in indices { counts[index + 1] += 1 }
            for task in 0..<count { counts[task + 1] += counts[task] }
            var fill = counts
            var inverse = [Int](repeating: 0, count: indices.count)
            for task in 0..<count {
                for index in self[task] {
                    inverse[fill[index]] = task
                    fill[index] += 1
                }
            }
            return Adjacency(offsets: counts, indices: inverse)
        }
    }

    /// Tasks by index.
    public let tasks: [TaskGraph.Task]
    /// For each task, the tasks it needs, each once.
    public let dependencies: Adjacency
    /// For each task, the tasks that need it.
    public let dependents: Adjacency
    /// For each task, the index of the task behind each `.key` of its arguments, in order of
    /// appearance (depth first through lists): how a scheduler resolves arguments.
    public let references: Adjacency
    /// The indices of the requested keys, in the order requested.
    public let targets: [Int]
    /// Index of each key.
    public let index: [TaskKey: Int]

    /// The number of tasks.
    public var count: Int { tasks.count }

    init(tasks: [TaskGraph.Task], dependencies: Adjacency, references: Adjacency, targets: [Int], index: [TaskKey: Int])
    {
        self.tasks = tasks
        self.dependencies = dependencies
        self.dependents = dependencies.inverted(count: tasks.count)
        self.references = references
        self.targets = targets
        self.index = index
    }

    /// The arguments of `task` with each `.key` replaced by `resolve(index of its task)`.
    @inlinable
    public func resolvedArguments<Value>(
        of task: Int,
        value: (Payload) -> Value,
        reference: (Int) -> Value,
        list: ([Value]) -> Value
    ) -> [Value] {
        var cursor = references.offsets[task]
        func resolve(_ argument: ArgumentSpec) -> Value {
            switch argument {
            case .value(let payload):
                return value(payload)
            case .key:
                defer { cursor += 1 }
                return reference(references.indices[cursor])
            case .list(let items):
                return list(items.map(resolve))
            }
        }
        return tasks[task].spec.arguments.map(resolve)
    }
}

// MARK: - Planning lazy values

extension GraphPlan {
    /// Plans everything `roots` need, walking the lazy graph by object identity (no key lookups on
    /// edges): the fast path of `Delayed.compute()`.
    ///
    /// A lazy graph is built bottom-up from immutable nodes, so it has no cycles and no missing
    /// dependencies; what can still be wrong is two different tasks given one explicit key, or a
    /// task whose arguments failed to encode.
    ///
    /// - Throws: ``GraphError`` with code ``GraphError/Code/conflictingKey`` or
    ///   ``GraphError/Code/invalidTask``.
    public init(roots: [DelayedNode]) throws(GraphError) {
        var byObject: [ObjectIdentifier: Int] = [:]
        var byKey: [TaskKey: Int] = [:]
        var tasks: [TaskGraph.Task] = []
        var dependencies = Adjacency()
        var references = Adjacency()
        var needs: [Int] = []
        var stack: [(node: DelayedNode, next: Int)] = []
        for root in roots where byObject[ObjectIdentifier(root)] == nil {
            stack.append((root, 0))
            while !stack.isEmpty {
                let top = stack.count - 1
                let node = stack[top].node
                if stack[top].next < node.dependencies.count {
                    let dependency = node.dependencies[stack[top].next]
                    stack[top].next += 1
                    if byObject[ObjectIdentifier(dependency)] == nil { stack.append((dependency, 0)) }
                    continue
                }
                stack.removeLast()
                let identity = ObjectIdentifier(node)
                if byObject[identity] != nil { continue }  // reached twice through a diamond
                if let external = node.externalKeys.first {
                    throw GraphError(
                        code: .missingDependency,
                        message: "Task '\(node.spec.key)' depends on '\(external)', a result on a cluster: "
                            + "compute it with that cluster's client.",
                        keys: [node.spec.key, external]
                    )
                }
                if let reason = node.invalidReason {
                    throw GraphError(
                        code: .invalidTask, message: "Task '\(node.spec.key)' cannot run: \(reason)",
                        keys: [node.spec.key])
                }
                if let existing = byKey[node.spec.key] {
                    // The same call made twice: one task. Another call under the same key: an error.
                    guard tasks[existing].spec == node.spec else {
                        throw GraphError(
                            code: .conflictingKey,
                            message: "Two different tasks have the key '\(node.spec.key)': "
                                + "'\(tasks[existing].spec.function)' and '\(node.spec.function)'.",
                            keys: [node.spec.key]
                        )
                    }
                    byObject[identity] = existing
                    continue
                }
                byObject[identity] = tasks.count
                byKey[node.spec.key] = tasks.count
                needs.removeAll(keepingCapacity: true)
                for dependency in node.dependencies { needs.append(byObject[ObjectIdentifier(dependency)]!) }
                // Lazy arguments record their nodes in the order their keys appear.
                references.appendList(needs)
                dependencies.appendList(Self.unique(needs))
                tasks.append(TaskGraph.Task(spec: node.spec, function: node.function))
            }
        }
        self.init(
            tasks: tasks,
            dependencies: dependencies,
            references: references,
            targets: roots.map { byObject[ObjectIdentifier($0)]! },
            index: byKey
        )
    }

    /// The indices, each once, in order of first appearance.
    static func unique(_ indices: [Int]) -> [Int] {
        if indices.count < 2 { return indices }
        if indices.count <= 16 {
            var result: [Int] = []
            result.reserveCapacity(indices.count)
            for index in indices where !result.contains(index) { result.append(index) }
            return result
        }
        var seen = Set<Int>()
        return indices.filter { seen.insert($0).inserted }
    }
}
