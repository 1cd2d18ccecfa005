/// A task graph that cannot be computed.
public struct GraphError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What is wrong with the graph.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case cycle, missingDependency, conflictingKey, unknownFunction, invalidTask
        }
        private let base: Base

        /// Tasks depend on each other in a circle.
        public static let cycle = Code(base: .cycle)
        /// A task needs a key that no task in the graph produces.
        public static let missingDependency = Code(base: .missingDependency)
        /// Two different tasks were given the same key.
        public static let conflictingKey = Code(base: .conflictingKey)
        /// A task calls a function the registry does not have.
        public static let unknownFunction = Code(base: .unknownFunction)
        /// A task could not be built (e.g. an argument failed to encode).
        public static let invalidTask = Code(base: .invalidTask)

        public var description: String {
            switch base {
            case .cycle: "cycle"
            case .missingDependency: "missing dependency"
            case .conflictingKey: "conflicting key"
            case .unknownFunction: "unknown function"
            case .invalidTask: "invalid task"
            }
        }
    }

    public var code: Code
    public var message: String
    /// The keys involved: the cycle in order, or the task and the key it misses.
    public var keys: [TaskKey]

    public init(code: Code, message: String, keys: [TaskKey]) {
        self.code = code
        self.message = message
        self.keys = keys
    }

    public var description: String { message }
}
