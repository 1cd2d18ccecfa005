import Testing

@testable import DroverScheduler

@Suite struct MemoryTrimPolicyTests {
    private func trim(_ policy: inout MemoryTrimPolicy, afterReports events: Int, tasksHeld: Int) -> Bool {
        policy.shouldTrim(afterReports: events, tasksHeld: tasksHeld)
    }

    private func trim(_ policy: inout MemoryTrimPolicy, afterChurn churn: Int, tasksHeld: Int) -> Bool {
        policy.shouldTrim(afterClientChurn: churn, tasksHeld: tasksHeld)
    }

    private func trimOnTick(_ policy: inout MemoryTrimPolicy) -> Bool {
        policy.shouldTrimOnTick()
    }

    @Test func trimsAfterABigClientBatch() {
        var policy = MemoryTrimPolicy(threshold: 100)
        #expect(!trim(&policy, afterChurn: 99, tasksHeld: 99))
        #expect(trim(&policy, afterChurn: 100, tasksHeld: 199))
        #expect(policy.churnSinceTrim == 0)
        // Held tasks do not delay a trim below twice the threshold.
        #expect(trim(&policy, afterChurn: 100, tasksHeld: 200))
    }

    /// What a burst freed goes back on the first quiet tick after it, not at the next threshold.
    @Test func aQuietTickAfterABurstTrims() {
        var policy = MemoryTrimPolicy(threshold: 100_000)
        #expect(!trimOnTick(&policy), "nothing happened")
        #expect(!trim(&policy, afterReports: 600, tasksHeld: 5_000))
        #expect(!trim(&policy, afterChurn: 600, tasksHeld: 5_000))
        #expect(!trimOnTick(&policy), "a busy tick")
        #expect(trimOnTick(&policy), "the first quiet one")
        #expect(policy.reportsSinceTrim == 0 && policy.churnSinceTrim == 0)
        #expect(!trimOnTick(&policy), "nothing since")
        // Heartbeats alone: a few events a tick, quiet, but no burst.
        for _ in 0..<100 {
            #expect(!trim(&policy, afterReports: 2, tasksHeld: 5_000))
            #expect(!trimOnTick(&policy))
        }
    }

    /// A map sent in parts: the parts add up; the threshold is half the tasks held once that is
    /// larger, so a million tasks in parts of 1,024 trim a handful of times, not a thousand.
    @Test func clientPartsAddUp() {
        var policy = MemoryTrimPolicy(threshold: 100)
        var held = 0
        var trims: [Int] = []
        for _ in 0..<100 {
            held += 25
            if trim(&policy, afterChurn: 25, tasksHeld: held) { trims.append(held) }
        }
        #expect(trims == [100, 200, 400, 800, 1_600])
    }

    /// Reports add up across batches; the threshold is half the tasks held once that is larger.
    @Test func trimsAfterReportsAddUp() {
        var policy = MemoryTrimPolicy(threshold: 100)
        #expect(trim(&policy, afterReports: 60, tasksHeld: 10) == false)
        #expect(trim(&policy, afterReports: 40, tasksHeld: 10) == true)
        #expect(policy.reportsSinceTrim == 0)
        #expect(trim(&policy, afterReports: 100, tasksHeld: 1_000) == false)
        #expect(trim(&policy, afterReports: 399, tasksHeld: 1_000) == false)
        #expect(trim(&policy, afterReports: 1, tasksHeld: 1_000) == true)
        #expect(trim(&policy, afterReports: 1, tasksHeld: 1_000) == false)
    }
}
