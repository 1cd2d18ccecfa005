import CSystemd
import Glibc

/// The service manager's side of a process's life: readiness and status (`sd_notify`), the
/// watchdog, and sockets it passed (socket activation).
///
/// Outside systemd every call is a cheap no-op: without `$NOTIFY_SOCKET` nothing is formatted or
/// sent, without `$WATCHDOG_USEC` there is no watchdog, and without `$LISTEN_FDS` there is no socket.
public enum ServiceManager {
    /// One assignment sent to the service manager (see `sd_notify(3)`).
    public enum Notification: Sendable, Hashable {
        /// `READY=1`: start-up finished (for `Type=notify`, the unit becomes active).
        case ready
        /// `STATUS=…`: a line `systemctl status` shows.
        case status(String)
        /// `STOPPING=1`: shutdown began.
        case stopping
        /// `WATCHDOG=1`: the process is alive (see ``watchdogInterval()``).
        case watchdog

        /// The text sent, e.g. `READY=1`; a status's line breaks become spaces.
        public var assignment: String {
            switch self {
            case .ready: "READY=1"
            case .status(let text): "STATUS=" + text.split(whereSeparator: \.isNewline).joined(separator: " ")
            case .stopping: "STOPPING=1"
            case .watchdog: "WATCHDOG=1"
            }
        }
    }

    /// Whether a service manager listens (`$NOTIFY_SOCKET` is set).
    public static var isNotifying: Bool { getenv("NOTIFY_SOCKET") != nil }

    /// Sends `notifications` to the service manager as one datagram (assignments separated by
    /// line breaks) through `sd_notify(0, …)`, which leaves `$NOTIFY_SOCKET` in the environment.
    ///
    /// - Parameter notifications: What to say, in order.
    /// - Returns: Whether it was sent: false when no service manager listens.
    /// - Throws: ``SystemdError`` with code ``SystemdError/Code/notifyFailed`` when sending failed.
    @discardableResult
    public static func notify(_ notifications: Notification...) throws(SystemdError) -> Bool {
        try notify(notifications)
    }

    /// Sends `notifications` to the service manager as one datagram; see ``notify(_:)``.
    ///
    /// - Parameter notifications: What to say, in order.
    /// - Returns: Whether it was sent: false when no service manager listens.
    /// - Throws: ``SystemdError`` with code ``SystemdError/Code/notifyFailed`` when sending failed.
    @discardableResult
    public static func notify(_ notifications: [Notification]) throws(SystemdError) -> Bool {
        guard !notifications.isEmpty, isNotifying else { return false }
        let text = notifications.map(\.assignment).joined(separator: "\n")
        let result = sd_notify(0, text)
        guard result >= 0 else {
            throw SystemdError(
                code: .notifyFailed, message: "Could not send '\(text)' to the service manager's notify socket.",
                errno: -result)
        }
        return result > 0
    }
}
