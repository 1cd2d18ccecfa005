/// A lazy result: the task that will produce a `Value`, with everything it depends on.
///
/// Made by ``TaskFunction/delayed(_:key:pure:)``; computed by `compute()` in `DroverLocal`
/// (or a distributed `Client`). Like `dask.delayed`, building a graph runs nothing.
public struct Delayed<Value: TaskValue>: TaskArgument, Sendable, CustomStringConvertible {
    /// The node of the task graph that produces this value.
    public let node: DelayedNode

    /// The key of the task that produces this value.
    public var key: TaskKey { node.spec.key }

    init(node: DelayedNode) {
        self.node = node
    }

    init(failing function: AnyTaskFunction, error: any Error, key: TaskKey?) {
        let taskKey = key ?? TaskKey(function: function.name, token: Token.unique())
        self.node = DelayedNode(
            spec: TaskSpec(key: taskKey, function: function.name, arguments: []),
            function: function,
            dependencies: [],
            invalidReason: "an argument cannot be encoded: \(error)"
        )
    }

    public func makeArgument(in context: inout ArgumentContext) throws -> ArgumentSpec {
        context.dependencies.append(node)
        return .key(key)
    }

    /// The whole graph needed to compute this value.
    public var graph: TaskGraph { TaskGraph(roots: [node]) }

    public var description: String { "Delayed('\(key)')" }
}

/// One task of a lazy graph and links to the tasks it depends on. Immutable once built, so building
/// a chain costs O(1) per call however long the chain.
public final class DelayedNode: @unchecked Sendable {
    // @unchecked: `storedDependencies` is written only by `init` and by `deinit`, which has the
    // object to itself; everything else only reads it.
    public let spec: TaskSpec
    /// The function, for schedulers that run tasks in this process.
    public let function: AnyTaskFunction
    /// Why this task cannot run, found while building it (reported when computed).
    public let invalidReason: String?
    /// Keys of results already on a cluster (futures) that the arguments refer to.
    public let externalKeys: [TaskKey]
    private var storedDependencies: [DelayedNode]

    /// The nodes this task needs.
    public var dependencies: [DelayedNode] { storedDependencies }

    init(
        spec: TaskSpec,
        function: AnyTaskFunction,
        dependencies: [DelayedNode],
        externalKeys: [TaskKey] = [],
        invalidReason: String? = nil
    ) {
        self.spec = spec
        self.function = function
        self.storedDependencies = dependencies
        self.externalKeys = externalKeys
        self.invalidReason = invalidReason
    }

    /// Every node `roots` need, each once, dependencies before dependents.
    public static func dependenciesFirst(_ roots: [DelayedNode]) -> [DelayedNode] {
        var seen = Set<ObjectIdentifier>()
        var order: [DelayedNode] = []
        var stack: [(node: DelayedNode, next: Int)] = []
        for root in roots where seen.insert(ObjectIdentifier(root)).inserted {
            stack.append((root, 0))
            while !stack.isEmpty {
                let top = stack.count - 1
                let node = stack[top].node
                if stack[top].next < node.dependencies.count {
                    let dependency = node.dependencies[stack[top].next]
                    stack[top].next += 1
                    if seen.insert(ObjectIdentifier(dependency)).inserted { stack.append((dependency, 0)) }
                } else {
                    order.append(stack.removeLast().node)
                }
            }
        }
        return order
    }

    deinit {
        // Releasing a long chain node by node would recurse once per link and overflow the stack;
        // unlink the nodes only this one holds and release them from a loop instead.
        var pending: [DelayedNode] = []
        swap(&pending, &storedDependencies)
        while var node = pending.popLast() {
            if isKnownUniquelyReferenced(&node) {
                var inner: [DelayedNode] = []
                swap(&inner, &node.storedDependencies)
                pending.append(contentsOf: inner)
            }
        }
    }
}
