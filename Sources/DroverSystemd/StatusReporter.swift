public import Logging

/// Keeps the service manager told how the process is doing: every `interval` it awaits `status`
/// and sends `STATUS=<line>`, with `WATCHDOG=1` in the same datagram when the watchdog is on.
///
/// Because each ping follows a fresh status line, a process whose status cannot be computed (a
/// wedged actor) stops pinging and systemd's watchdog restarts it. With a watchdog the period is
/// the shorter of `interval` and ``ServiceManager/watchdogInterval()``.
public struct StatusReporter: Sendable {
    private let interval: Duration
    private let watchdog: Duration?
    private let logger: Logger
    private let status: @Sendable () async -> String

    /// Creates a reporter.
    ///
    /// - Parameters:
    ///   - interval: How often the status line is refreshed.
    ///   - watchdog: How often to ping the watchdog; nil for never.
    ///   - logger: Where a failure to notify is logged (once).
    ///   - status: Computes the status line.
    public init(
        interval: Duration = .seconds(1), watchdog: Duration? = ServiceManager.watchdogInterval(), logger: Logger,
        status: @escaping @Sendable () async -> String
    ) {
        self.interval = interval
        self.watchdog = watchdog
        self.logger = logger
        self.status = status
    }

    /// The time between two notifications.
    public var period: Duration { watchdog.map { min($0, interval) } ?? interval }

    /// Reports until cancelled; returns at once when no service manager listens.
    public func run() async {
        guard ServiceManager.isNotifying else { return }
        var hasFailed = false
        while !Task.isCancelled {
            var notifications: [ServiceManager.Notification] = [.status(await status())]
            if watchdog != nil { notifications.append(.watchdog) }
            do {
                try ServiceManager.notify(notifications)
            } catch {
                if !hasFailed {
                    logger.warning("could not notify the service manager", metadata: ["error": "\(error)"])
                }
                hasFailed = true
            }
            try? await Task.sleep(for: period)
        }
    }
}
