import DroverNanny
import Testing

@Suite struct RestartPolicyTests {
    @Test func theFirstDeathRestartsAtOnce() {
        var policy = RestartPolicy()
        #expect(policy.consecutiveFailures == 0)
        #expect(policy.delay == .zero)
        #expect(policy.workerDied(after: .seconds(3600)) == .zero)
        #expect(policy.consecutiveFailures == 1)
    }

    @Test func aWorkerThatDiesAtOnceOnItsFirstStartIsAlsoRestartedAtOnce() {
        var policy = RestartPolicy()
        #expect(policy.workerDied(after: .milliseconds(5)) == .zero)
    }

    @Test func quickDeathsBackOffFrom100MillisecondsDoublingUpTo10Seconds() {
        var policy = RestartPolicy()
        let delays = (0..<12).map { _ in policy.workerDied(after: .seconds(1)) }
        #expect(
            delays == [
                .zero, .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800),
                .milliseconds(1600), .milliseconds(3200), .milliseconds(6400), .seconds(10), .seconds(10),
                .seconds(10), .seconds(10),
            ])
        #expect(policy.consecutiveFailures == 12)
    }

    @Test func aHealthyRunEndsTheStreak() {
        var policy = RestartPolicy()
        for _ in 0..<5 { _ = policy.workerDied(after: .seconds(2)) }
        #expect(policy.delay == .milliseconds(800))
        #expect(policy.workerDied(after: .seconds(10)) == .zero)
        #expect(policy.consecutiveFailures == 1)
        #expect(policy.workerDied(after: .seconds(9)) == .milliseconds(100))
        #expect(policy.consecutiveFailures == 2)
    }

    @Test func justUnderTheHealthyPeriodStillCountsAsAQuickDeath() {
        var policy = RestartPolicy()
        _ = policy.workerDied(after: .seconds(60))
        #expect(policy.workerDied(after: .seconds(10) - .nanoseconds(1)) == .milliseconds(100))
    }

    @Test func aVeryLongStreakStaysAtTheCap() {
        var policy = RestartPolicy()
        for _ in 0..<10_000 { _ = policy.workerDied(after: .zero) }
        #expect(policy.delay == .seconds(10))
        #expect(policy.consecutiveFailures == 10_000)
    }

    @Test func settingsAreHonoured() {
        var policy = RestartPolicy(
            initialDelay: .seconds(1), maximumDelay: .seconds(3), healthyPeriod: .seconds(60))
        let delays = (0..<5).map { _ in policy.workerDied(after: .seconds(30)) }
        #expect(delays == [.zero, .seconds(1), .seconds(2), .seconds(3), .seconds(3)])
        #expect(policy.workerDied(after: .seconds(60)) == .zero)
    }
}
