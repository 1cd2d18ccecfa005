/// A failure to find, read or change a cgroup; the message names the file and the reason.
public struct CgroupError: Error, CustomStringConvertible {
    /// The class of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case unavailable, fileSystem, invalidArgument
        }
        private let base: Base

        /// This process has no memory cgroup it may create children in (the nanny polls RSS instead).
        public static let unavailable = Code(base: .unavailable)
        /// Reading or writing a cgroup file or directory failed.
        public static let fileSystem = Code(base: .fileSystem)
        /// A caller passed a bad name or limit.
        public static let invalidArgument = Code(base: .invalidArgument)

        public var description: String {
            switch base {
            case .unavailable: "unavailable"
            case .fileSystem: "fileSystem"
            case .invalidArgument: "invalidArgument"
            }
        }

        private init(base: Base) {
            self.base = base
        }
    }

    /// The class of failure.
    public var code: Code
    /// What failed and why, e.g. "Cannot write '67108864' to /sys/fs/cgroup/memory/w/memory.limit_in_bytes:
    /// Device or resource busy (EBUSY)."
    public var message: String
    /// The underlying error, usually a `POSIXError`.
    public var cause: (any Error)?

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: The class of failure.
    ///   - message: What failed and why.
    ///   - cause: The underlying error.
    public init(code: Code, message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String { message }
}
