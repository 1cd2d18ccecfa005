public import DroverCore

/// A result computed on the cluster, like `dask.distributed.Future`.
///
/// It holds a reference to the result: when the last future of a key is gone, the cluster frees it.
/// A future can be an argument of another task; the task then waits for it, wherever it is.
public final class Future<Value: TaskValue>: TaskArgument, Sendable, CustomStringConvertible {
    /// The key of the task.
    public let key: TaskKey
    let client: Client

    init(key: TaskKey, client: Client) {
        self.key = key
        self.client = client
        client.retain(key)
    }

    deinit {
        client.release(key)
    }

    /// Waits for the result and fetches it from the worker holding it.
    ///
    /// - Throws: ``TaskError`` when the task (or one it depends on) failed; ``ClientError`` when
    ///   the connection is gone.
    public func result() async throws -> Value {
        try await client.gather([self])[0]
    }

    /// Where the task stands, as far as this client knows.
    public var status: FutureStatus { client.status(of: key) }

    /// Whether the task has finished, failed or been cancelled.
    public var isDone: Bool {
        switch status {
        case .finished, .error, .cancelled: true
        case .pending, .lost: false
        }
    }

    /// The same result, read as `Other`: a type whose payloads are `Value`'s, such as
    /// `PackedArray<Double>` for `[Double]`, so that a task reads a large array in place instead of
    /// copying it into a new one.
    ///
    /// ```swift
    /// let values = try client.submit(makeDoubles, 1 << 27)            // Future<[Double]>
    /// let mean = try client.submit(meanInPlace, values.viewed(as: PackedArray<Double>.self))
    /// ```
    ///
    /// - Throws: ``ClientError`` when `Other`'s payloads are not `Value`'s.
    public func viewed<Other: TaskValue>(as other: Other.Type) throws -> Future<Other> {
        guard Other.taskTypeName == Value.taskTypeName else {
            throw ClientError(
                message:
                    "A future of \(Value.taskTypeName) cannot be read as \(Other.taskTypeName): their payloads differ.")
        }
        return Future<Other>(key: key, client: client)
    }

    /// Cancels the task; see ``Client/cancel(_:)``.
    public func cancel() {
        client.cancel([self])
    }

    public func makeArgument(in context: inout ArgumentContext) throws -> ArgumentSpec {
        context.externalKeys.append(key)
        return .key(key)
    }

    /// Like Dask's `<Future: finished, type: Int, key: inc-…>`: status, type and key.
    public var description: String { "<Future: \(status.rawValue), type: \(Value.taskTypeName), key: \(key)>" }
}
