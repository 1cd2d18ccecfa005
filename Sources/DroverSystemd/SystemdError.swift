/// A failure talking to the service manager (systemd) or taking what it passed.
public struct SystemdError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: Hashable, Sendable {
            case notifyFailed, socketActivationFailed
        }

        private let wrapped: Wrapped

        /// `sd_notify` could not send to `$NOTIFY_SOCKET`.
        public static let notifyFailed = Code(wrapped: .notifyFailed)
        /// The sockets passed through `$LISTEN_FDS` are not the one listening stream socket expected.
        public static let socketActivationFailed = Code(wrapped: .socketActivationFailed)

        /// The code in words.
        public var description: String {
            switch wrapped {
            case .notifyFailed: "notify failed"
            case .socketActivationFailed: "socket activation failed"
            }
        }
    }

    /// What kind of failure this is.
    public var code: Code
    /// The broken rule, in words.
    public var message: String
    /// The `errno` value libsystemd returned (positive), if any.
    public var errno: Int32?

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: What kind of failure this is.
    ///   - message: The broken rule, in words.
    ///   - errno: The `errno` value libsystemd returned (positive), if any.
    public init(code: Code, message: String, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
    }

    /// The message, and the `errno` value when there is one.
    public var description: String {
        guard let errno else { return message }
        return "\(message) (errno \(errno))"
    }
}
