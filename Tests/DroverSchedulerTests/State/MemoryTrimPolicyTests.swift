import Testing

@testable import DroverScheduler

@Suite struct MemoryTrimPolicyTests {
    private func trim(_ policy: inout MemoryTrimPolicy, afterReports events: Int, tasksHeld: Int) -> Bool {
        policy.shouldTrim(afterReports: events, tasksHeld: tasksHeld)
    }

    @Test func trimsAfterABigClientBatch() {
        let policy = MemoryTrimPolicy(threshold: 100)
        #expect(!policy.shouldTrim(afterClientChurn: 99))
        #expect(policy.shouldTrim(afterClientChurn: 100))
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
