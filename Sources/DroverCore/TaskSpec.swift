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
    ///
    /// Called for every task the scheduler and the worker take in: arguments that name no key
    /// (a `map`'s) cost no allocation, and up to 16 keys are told apart without a set.
    public var dependencies: [TaskKey] {
        var keys: [TaskKey] = []
        for argument in arguments {
            switch argument {
            case .value: continue
            case .key(let key):
                if !keys.contains(key) { keys.append(key) }
                if keys.count > 16 { return Self.distinctKeys(of: arguments) }
            case .list: return Self.distinctKeys(of: arguments)
            }
        }
        return keys
    }

    private static func distinctKeys(of arguments: [ArgumentSpec]) -> [TaskKey] {
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
