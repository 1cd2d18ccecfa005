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

    public init(kind: Kind, key: TaskKey, function: String, message: String, location: String? = nil) {
        self.kind = kind
        self.key = key
        self.function = function
        self.message = message
        self.location = location
    }

    public var description: String {
        let place = location.map { " on \($0)" } ?? ""
        return "Task '\(key)' (function '\(function)') \(kind)\(place): \(message)"
    }
}
