/// How long the nanny waits before starting a replacement for a worker that died.
///
/// A worker that dies after running well is replaced at once, so `kill -9` costs no more than a start. A worker that
/// keeps dying soon after starting (a crash loop, or a task that always runs it out of memory) is restarted after
/// ``initialDelay``, then after twice that, and so on up to ``maximumDelay``. Running for ``healthyPeriod`` ends the
/// streak. The policy owns no clock: the nanny passes how long the worker ran.
///
/// Transitions: ``consecutiveFailures`` goes from 0 (no death yet, or the last worker ran long enough) up by one per
/// quick death, and back to 1 on a death after a healthy run.
public struct RestartPolicy: Sendable, Hashable {
    /// The delay after the second death in a row; it doubles with each further one.
    public var initialDelay: Duration
    /// The longest delay between restarts.
    public var maximumDelay: Duration
    /// A worker that ran at least this long before dying ends the streak of failures.
    public var healthyPeriod: Duration
    /// Deaths in a row, each less than ``healthyPeriod`` after its start (the first one of a streak counts, whatever
    /// its run time). Above 1 the worker is flapping, which the nanny logs.
    public private(set) var consecutiveFailures = 0

    /// Creates a policy with no failures yet.
    ///
    /// - Parameters:
    ///   - initialDelay: The delay after the second quick death in a row (100 ms).
    ///   - maximumDelay: The cap on the delay (10 s).
    ///   - healthyPeriod: The run time that resets the streak (10 s).
    public init(
        initialDelay: Duration = .milliseconds(100),
        maximumDelay: Duration = .seconds(10),
        healthyPeriod: Duration = .seconds(10)
    ) {
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.healthyPeriod = healthyPeriod
    }

    /// Records that a worker died after running for `uptime`.
    ///
    /// - Parameter uptime: The time from the worker's start to its death.
    /// - Returns: How long to wait before starting its replacement: zero for the first death of a streak,
    ///   then ``initialDelay`` doubling up to ``maximumDelay``.
    public mutating func workerDied(after uptime: Duration) -> Duration {
        if uptime >= healthyPeriod {
            consecutiveFailures = 0
        }
        consecutiveFailures += 1
        return delay
    }

    /// The delay for the current streak: what the last ``workerDied(after:)`` returned.
    public var delay: Duration {
        guard consecutiveFailures > 1 else { return .zero }
        var delay = initialDelay
        for _ in 2..<consecutiveFailures {
            guard delay < maximumDelay else { break }
            delay *= 2
        }
        return min(delay, maximumDelay)
    }
}
