import DroverCore
import DroverWorker
import Testing

@Suite struct MemoryPolicyTests {
    /// Results of these sizes, oldest first.
    func ledger(_ sizes: KeyValuePairs<TaskKey, Int64>) -> MemoryLedger {
        var ledger = MemoryLedger()
        for (key, nbytes) in sizes { ledger.insert(key, nbytes: nbytes) }
        return ledger
    }

    @Test func noLimitMeansNothingHappens() {
        let policy = MemoryPolicy(limit: 0)
        let full = ledger(["a": 1 << 40])
        #expect(!policy.isEnabled)
        #expect(policy.keysToSpill(full).isEmpty)
        #expect(policy.evaluate(full, residentBytes: 1 << 41) == .init(spill: [], isPaused: false))
    }

    @Test func resultsAboveTheTargetAreSpilledOldestFirst() {
        let policy = MemoryPolicy(limit: 1000)
        let results = ledger(["a": 300, "b": 200, "c": 200])
        #expect(policy.keysToSpill(results) == ["a"])
        #expect(policy.evaluate(results, residentBytes: 0) == .init(spill: ["a"], isPaused: false))
        #expect(policy.keysToSpill(ledger(["a": 300, "b": 300])).isEmpty)
    }

    @Test func processMemoryAboveSpillIsEstimatedDownToTheTarget() {
        let policy = MemoryPolicy(limit: 1000)
        let results = ledger(["a": 100, "b": 100, "c": 100])
        // 750 > 700: spill until 750 minus what was spilled is at most 600.
        #expect(policy.evaluate(results, residentBytes: 750) == .init(spill: ["a", "b"], isPaused: false))
        // At the spill threshold itself nothing happens.
        #expect(policy.evaluate(results, residentBytes: 700) == .init(spill: [], isPaused: false))
        // Spilling everything may not be enough: all of it goes.
        #expect(policy.evaluate(results, residentBytes: 950).spill == ["a", "b", "c"])
    }

    @Test func bothReasonsCountTogether() {
        let policy = MemoryPolicy(limit: 1000)
        let results = ledger(["a": 500, "b": 150, "c": 100])
        // 750 in memory > 600 spills "a"; RSS 1200 minus 500 is still above 600, so "b" goes too (550).
        #expect(policy.evaluate(results, residentBytes: 1200) == .init(spill: ["a", "b"], isPaused: true))
        #expect(policy.evaluate(results, residentBytes: 100) == .init(spill: ["a"], isPaused: false))
    }

    @Test(arguments: [(Int64(799), false), (800, false), (801, true), (5000, true)])
    func processMemoryAbovePausePauses(resident: Int64, isPaused: Bool) {
        let policy = MemoryPolicy(limit: 1000)
        #expect(policy.evaluate(MemoryLedger(), residentBytes: resident) == .init(spill: [], isPaused: isPaused))
    }

    @Test func aFractionOfZeroTurnsItsStepOff() {
        let noPause = MemoryPolicy(limit: 1000, pauseFraction: 0)
        #expect(!noPause.evaluate(MemoryLedger(), residentBytes: 5000).isPaused)
        let noTarget = MemoryPolicy(limit: 1000, targetFraction: 0)
        let results = ledger(["a": 400, "b": 400])
        #expect(noTarget.keysToSpill(results).isEmpty)
        // Without a target, process memory is spilled down to the spill threshold (as Dask does).
        #expect(noTarget.evaluate(results, residentBytes: 1000).spill == ["a"])
        let noSpill = MemoryPolicy(limit: 1000, spillFraction: 0)
        #expect(noSpill.evaluate(ledger(["a": 100]), residentBytes: 900) == .init(spill: [], isPaused: true))
    }

    @Test func freeMemoryIsHandedBackUnderPressureOnly() {
        let policy = MemoryPolicy(limit: 1000)
        #expect(!policy.shouldReleaseFreeMemory(residentBytes: 700, isPaused: false))
        #expect(policy.shouldReleaseFreeMemory(residentBytes: 701, isPaused: false))
        // A paused worker may be held above its limit by memory malloc keeps: always try.
        #expect(policy.shouldReleaseFreeMemory(residentBytes: 100, isPaused: true))
        // Without spilling, the pause threshold; with neither, never (unless paused).
        let noSpill = MemoryPolicy(limit: 1000, spillFraction: 0)
        #expect(!noSpill.shouldReleaseFreeMemory(residentBytes: 800, isPaused: false))
        #expect(noSpill.shouldReleaseFreeMemory(residentBytes: 801, isPaused: false))
        let neither = MemoryPolicy(limit: 1000, spillFraction: 0, pauseFraction: 0)
        #expect(!neither.shouldReleaseFreeMemory(residentBytes: 5000, isPaused: false))
        #expect(!MemoryPolicy(limit: 0).shouldReleaseFreeMemory(residentBytes: 5000, isPaused: true))
    }
}
