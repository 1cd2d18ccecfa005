/// Why a task produced no result. `compute()` and `Future.result()` throw it.
public struct TaskError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The class of failure.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Int, Hashable, Sendable {
            case failed = 1, unknownFunction, badArgument, workerDied, killedWorker, rejected
        }
        private let base: Base

        /// The function threw.
        public static let failed = Kind(base: .failed)
        /// No function of that name is registered where the task was to run.
        public static let unknownFunction = Kind(base: .unknownFunction)
        /// An argument could not be decoded as the type the function expects.
        public static let badArgument = Kind(base: .badArgument)
        /// The process running the task died.
        public static let workerDied = Kind(base: .workerDied)
        /// Workers died while running the task more often than allowed (Dask's `KilledWorker`).
        public static let killedWorker = Kind(base: .killedWorker)
        /// The scheduler refused the task as submitted, before anything ran: a dependency cycle, a
        /// dependency it does not have, a key it knows as another task, or a limit broken.
        public static let rejected = Kind(base: .rejected)

        /// Wire number, as in `drover.v1.TaskError.Kind`.
        public var rawValue: Int { base.rawValue }

        /// The kind with this wire number; unknown numbers read as ``failed``.
        public init(rawValue: Int) {
            self.base = Base(rawValue: rawValue) ?? .failed
        }

        private init(base: Base) {
            self.base = base
        }

        public var description: String {
            switch base {
            case .failed: "failed"
            case .unknownFunction: "unknown function"
            case .badArgument: "bad argument"
            case .workerDied: "worker died"
            case .killedWorker: "killed its workers"
            case .rejected: "was rejected"
            }
        }
    }

    public var kind: Kind
    /// The task that failed.
    public var key: TaskKey
    /// The function the task called.
    public var function: String
    /// What went wrong, in words (for a thrown error, its description).
    public var message: String
    /// Where the task ran, e.g. "pid 4242".
    public var location: String?
    /// The type of the error the function threw, as Swift spells it in full
    /// (`String(reflecting:)`, such as `MyApp.ParseError`); nil for failures of other kinds.
    public var errorType: String?
    /// The thrown error encoded as a value, when its type conforms to ``TaskValue`` (a `Codable`
    /// error with `extension MyError: TaskValue {}`); read it with ``error(as:)``.
    public var errorValue: Payload?

    public init(
        kind: Kind, key: TaskKey, function: String, message: String, location: String? = nil,
        errorType: String? = nil, errorValue: Payload? = nil
    ) {
        self.kind = kind
        self.key = key
        self.function = function
        self.message = message
        self.location = location
        self.errorType = errorType
        self.errorValue = errorValue
    }

    /// The error the function threw, when it was an `E`, decoded from ``errorValue``.
    ///
    /// Swift cannot rethrow the original type by itself: a type is not found from its name at run
    /// time, so the caller names it, as a `catch let e as E` would:
    ///
    /// ```swift
    /// } catch let error as TaskError {
    ///     if let parse = error.error(as: ParseError.self) { … }
    /// }
    /// ```
    ///
    /// - Returns: The error, or nil when the function threw something else (or nothing, or a type
    ///   that is not a ``TaskValue``).
    public func error<E: Error & TaskValue>(as type: E.Type) -> E? {
        guard let errorValue, errorValue.typeName == E.taskTypeName else { return nil }
        return try? E.decode(payload: errorValue)
    }

    public var description: String {
        let place = location.map { " on \($0)" } ?? ""
        return "Task '\(key)' (function '\(function)') \(kind)\(place): \(message)"
    }
}
