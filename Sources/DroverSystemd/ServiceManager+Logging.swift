public import Logging

extension ServiceManager {
    /// Sends `notifications` as ``notify(_:)`` does, and logs a failure at
    /// warning level instead of throwing: a process keeps serving when the service manager cannot
    /// be told.
    ///
    /// - Parameters:
    ///   - notifications: What to say, in order.
    ///   - logger: Where a failure is logged.
    public static func notify(_ notifications: Notification..., logger: Logger) {
        do {
            try notify(notifications)
        } catch {
            logger.warning(
                "could not notify the service manager",
                metadata: ["notification": "\(notifications.map(\.assignment))", "error": "\(error)"])
        }
    }
}
