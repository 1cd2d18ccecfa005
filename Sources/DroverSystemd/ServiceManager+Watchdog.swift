import CSystemd

extension ServiceManager {
    /// How often to send ``Notification/watchdog``: half the unit's `WatchdogSec=`, as
    /// `sd_watchdog_enabled(3)` advises; nil when the watchdog is off.
    ///
    /// The watchdog is off without `$WATCHDOG_USEC`, or when `$WATCHDOG_PID` names another process
    /// (a child that inherited its parent's environment).
    ///
    /// - Returns: The interval between pings, or nil.
    public static func watchdogInterval() -> Duration? {
        var microseconds: UInt64 = 0
        guard sd_watchdog_enabled(0, &microseconds) > 0, microseconds > 0 else { return nil }
        return .microseconds(Int64(clamping: microseconds / 2))
    }
}
