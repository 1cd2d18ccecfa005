/// A Swift function that tasks can call, identified across processes by its stable ``name``.
///
/// ```swift
/// let inc = TaskFunction("inc") { (x: Int) async throws -> Int in
///     try await Task.sleep(for: .seconds(1)); return x + 1
/// }
/// let total = sum.delayed((0..<8).map { inc.delayed($0) })
/// ```
///
/// Every process that may run the function must have it in its ``TaskRegistry`` under the same
/// name. Bodies may block: schedulers run them on threads of their own, never on Swift's
/// cooperative pool.
public struct TaskFunction<each Argument: TaskValue, Result: TaskValue>: Sendable {
    /// The name the function is registered and called by.
    public let name: String
    /// The type-erased form schedulers run.
    public let erased: AnyTaskFunction

    /// Creates a task function.
    ///
    /// - Parameters:
    ///   - name: A name unique within the registry, stable across builds and processes.
    ///   - body: The function itself; it may be synchronous, blocking, or async.
    public init(_ name: String, _ body: @escaping @Sendable (repeat each Argument) async throws -> Result) {
        self.name = name
        var argumentTypes: [String] = []
        for type in repeat (each Argument).self {
            argumentTypes.append(type.taskTypeName)
        }
        let types = argumentTypes
        self.erased = AnyTaskFunction(
            name: name,
            argumentTypes: types,
            resultType: Result.taskTypeName
        ) { arguments in
            guard arguments.count == types.count else {
                throw ArgumentMismatch(
                    message: "function '\(name)' takes \(types.count) argument(s), got \(arguments.count)"
                )
            }
            var index = 0
            func next<T: TaskValue>(_ type: T.Type) throws -> T {
                defer { index += 1 }
                do {
                    return try T.decode(argument: arguments[index])
                } catch let error as PayloadError {
                    throw ArgumentMismatch(
                        message: "function '\(name)' expects argument \(index + 1) of type \(T.taskTypeName), "
                            + "got \(arguments[index].typeDescription) (\(error.message))"
                    )
                }
            }
            let values = (repeat try next((each Argument).self))
            return try await body(repeat each values)
        }
    }

    /// Creates a task function from a synchronous body, which may block: call `Thread.sleep`, wait
    /// on a semaphore, read a file (Foundation makes such calls unavailable in async code).
    ///
    /// A closure with no `await` in it is synchronous and comes here; one that awaits goes to
    /// ``init(_:_:)-async``.
    ///
    /// - Parameters:
    ///   - name: A name unique within the registry, stable across builds and processes.
    ///   - body: The function itself.
    public init(_ name: String, _ body: @escaping @Sendable (repeat each Argument) throws -> Result) {
        self.init(name) { (arguments: repeat each Argument) async throws -> Result in
            try body(repeat each arguments)
        }
    }

    /// Builds a lazy call of this function: nothing runs until the result is computed.
    ///
    /// Arguments may be plain values, ``Delayed`` results, futures, or arrays of them; each lazy
    /// argument becomes a dependency.
    ///
    /// - Parameters:
    ///   - arguments: One argument per parameter of the function.
    ///   - key: The key to give the task; by default `"<name>-<token>"`.
    ///   - pure: When true (the default), the token hashes the name and arguments, so the same
    ///     call has the same key and is computed once. When false, the token is random.
    /// - Returns: The lazy result.
    public func delayed<each A: TaskArgument>(
        _ arguments: repeat each A,
        key: TaskKey? = nil,
        pure: Bool = true
    ) -> Delayed<Result> where repeat (each A).Value == each Argument {
        var context = ArgumentContext()
        var specs: [ArgumentSpec] = []
        do {
            for argument in repeat each arguments {
                specs.append(try argument.makeArgument(in: &context))
            }
        } catch {
            // An argument that cannot be encoded makes a task that fails when computed, with the
            // reason, rather than a throwing `delayed` at every call site.
            return Delayed(failing: self.erased, error: error, key: key)
        }
        let taskKey =
            key ?? TaskKey(function: name, token: pure ? Token.of(function: name, arguments: specs) : Token.unique())
        let spec = TaskSpec(key: taskKey, function: name, arguments: specs)
        return Delayed(
            node: DelayedNode(
                spec: spec, function: erased, dependencies: context.dependencies, externalKeys: context.externalKeys
            )
        )
    }

    /// Calls the function directly, in this process, without a scheduler.
    public func callAsFunction(_ arguments: repeat each Argument) async throws -> Result {
        var values: [ArgumentValue] = []
        for argument in repeat each arguments { values.append(.object(argument)) }
        let result = try await erased.call(values)
        return try Result.decode(argument: .object(result))
    }
}

/// A task function with its types erased, as registries and schedulers hold it.
public struct AnyTaskFunction: Sendable {
    /// The registered name.
    public let name: String
    /// The parameter types, by ``TaskValue/taskTypeName``.
    public let argumentTypes: [String]
    /// The result type, by ``TaskValue/taskTypeName``.
    public let resultType: String
    private let body: @Sendable ([ArgumentValue]) async throws -> any TaskValue

    /// Creates an erased function from a body that decodes its own arguments.
    public init(
        name: String,
        argumentTypes: [String],
        resultType: String,
        body: @escaping @Sendable ([ArgumentValue]) async throws -> any TaskValue
    ) {
        self.name = name
        self.argumentTypes = argumentTypes
        self.resultType = resultType
        self.body = body
    }

    /// A signature for messages: `inc(Int) -> Int`.
    public var signature: String {
        "\(name)(\(argumentTypes.joined(separator: ", "))) -> \(resultType)"
    }

    /// Runs the function.
    ///
    /// - Throws: ``ArgumentMismatch`` when an argument does not decode as the expected type;
    ///   otherwise whatever the body throws.
    public func call(_ arguments: [ArgumentValue]) async throws -> any TaskValue {
        try await body(arguments)
    }
}

/// Arguments that do not fit a function's parameters.
public struct ArgumentMismatch: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
