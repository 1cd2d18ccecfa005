/// One node of a task graph: call ``function`` with ``arguments`` and store the result as ``key``.
public struct TaskSpec: Sendable, Hashable {
    public var key: TaskKey
    /// The registered name of the function to call.
    public var function: String
    public var arguments: [ArgumentSpec]

    public init(key: TaskKey, function: String, arguments: [ArgumentSpec]) {
        self.key = key
        self.function = function
        self.arguments = arguments
    }

    /// The keys this task needs, each once, in order of first appearance.
    public var dependencies: [TaskKey] {
        var seen = Set<TaskKey>()
        var keys: [TaskKey] = []
        for argument in arguments {
            argument.forEachKey { key in
                if seen.insert(key).inserted { keys.append(key) }
            }
        }
        return keys
    }
}
