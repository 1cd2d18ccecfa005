/// The task functions a process can run, by name.
///
/// Built explicitly in `main` (Swift globals are lazy, so nothing can register itself) and handed to
/// `Drover.bootstrap` and the CLI, so that every process that may run a function knows it.
public struct TaskRegistry: Sendable {
    private var functions: [String: AnyTaskFunction] = [:]

    /// Creates an empty registry.
    public init() {}

    /// Creates a registry holding `functions`.
    public init(_ functions: [AnyTaskFunction]) {
        for function in functions { register(function) }
    }

    /// Adds or replaces a function.
    public mutating func register<each A: TaskValue, R: TaskValue>(_ function: TaskFunction<repeat each A, R>) {
        register(function.erased)
    }

    /// Adds or replaces an erased function.
    public mutating func register(_ function: AnyTaskFunction) {
        functions[function.name] = function
    }

    /// The function registered under `name`.
    public subscript(name: String) -> AnyTaskFunction? { functions[name] }

    /// The registered names, sorted.
    public var names: [String] { functions.keys.sorted() }

    /// This registry with the functions of `other` added (`other` wins on a name clash).
    public func merging(_ other: TaskRegistry) -> TaskRegistry {
        var merged = self
        for function in other.functions.values { merged.register(function) }
        return merged
    }
}
