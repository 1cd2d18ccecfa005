extension AnyTaskFunction {
    /// Runs the function as the task `key` and classifies any failure as a ``TaskError``.
    ///
    /// - Parameters:
    ///   - key: The task being run, named in errors.
    ///   - arguments: The resolved arguments.
    ///   - location: Where this runs, for error messages (e.g. "pid 4242").
    /// - Returns: The result, or the task's error: ``TaskError/Kind/badArgument`` when the
    ///   arguments do not fit, ``TaskError/Kind/failed`` when the body throws.
    public func run(key: TaskKey, arguments: [ArgumentValue], location: String?) async -> Result<
        any TaskValue, TaskError
    > {
        do {
            return .success(try await call(arguments))
        } catch let mismatch as ArgumentMismatch {
            return .failure(
                TaskError(kind: .badArgument, key: key, function: name, message: mismatch.message, location: location))
        } catch let error as TaskError {
            return .failure(
                TaskError(
                    kind: .failed, key: key, function: name, message: error.description, location: location,
                    errorType: String(reflecting: TaskError.self)))
        } catch {
            // A thrown value that is also a task value travels whole, so the caller can decode it.
            let value = (error as? any TaskValue).flatMap { try? $0.encodePayload() }
            return .failure(
                TaskError(
                    kind: .failed, key: key, function: name, message: String(describing: error), location: location,
                    errorType: String(reflecting: type(of: error)), errorValue: value)
            )
        }
    }
}

extension AnyTaskFunction {
    /// Runs the function like ``run(key:arguments:location:)`` and encodes the result, for a
    /// process that sends it elsewhere; a result that cannot be encoded is a failed task.
    public func runEncoded(
        key: TaskKey,
        arguments: [ArgumentValue],
        location: String?
    ) async -> Result<Payload, TaskError> {
        await run(key: key, arguments: arguments, location: location).flatMap { value in
            do {
                return .success(try value.encodePayload())
            } catch {
                return .failure(
                    TaskError(
                        kind: .failed, key: key, function: name,
                        message: "the result cannot be encoded: \(error)", location: location
                    )
                )
            }
        }
    }
}

extension TaskError {
    /// The error for a task whose function this process does not have.
    public static func unknownFunction(
        _ function: String,
        key: TaskKey,
        known: [String],
        location: String?
    ) -> TaskError {
        let list = known.isEmpty ? "none" : known.joined(separator: ", ")
        return TaskError(
            kind: .unknownFunction,
            key: key,
            function: function,
            message: "no function named '\(function)' is registered here (registered: \(list)); register it "
                + "(`registry.register(\(function))`) in the registry this program passes to "
                + "`DroverCommand.bootstrap(registry)`, `Drover.bootstrap(registry)` or `DroverCommand.main(registry:)`, "
                + "in every binary that runs it (workers included)",
            location: location
        )
    }
}
