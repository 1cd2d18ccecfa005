import DroverCore

/// The `timeout_seconds` of a waiting request (`GetVariable`, `QueueGet`, `SemaphoreAcquire`,
/// `EventWait`): 0 means wait for ever.
public enum WaitTimeout {
    /// The timeout a request carries: `nil` for 0 (or a value that is not a number); a negative one
    /// is zero (give up at the next check); past 10⁹ s it is 10⁹ s.
    public static func duration(seconds: Double) -> Duration? {
        guard seconds.isFinite, seconds != 0 else { return nil }
        return .seconds(min(max(seconds, 0), 1e9))
    }

    /// The field for a timeout: 0 for none; a zero or negative timeout becomes 1 ns, which still
    /// means "do not wait" (0 would mean "for ever").
    public static func seconds(_ timeout: Duration?) -> Double {
        guard let timeout else { return 0 }
        return max(timeout.inSeconds, 1e-9)
    }
}
