import DroverFuzzing
import Testing

/// A bounded run of every fuzz target: a fixed set of seeds, so a failure names the seed that
/// replays it (`swift run drover-fuzz <target> --seed S`). `scripts/fuzz` runs them for longer.
@Suite struct FuzzTargetTests {
    /// Inputs per target, sized for a few seconds of CPU in a debug build.
    static let inputs: [FuzzTarget: Int] = [.decode: 1500, .worker: 300, .scheduler: 150]

    @Test(arguments: FuzzTarget.allCases)
    func seededInputsFindNothing(target: FuzzTarget) {
        runSeeds(target)
    }

    private func runSeeds(_ target: FuzzTarget) {
        // Fixed seeds, different per target, so every run covers the same inputs.
        let first = UInt64(FuzzTarget.allCases.firstIndex(of: target)!) << 32
        for seed in first..<(first + UInt64(Self.inputs[target]!)) {
            do {
                try target.run(target.input(seed: seed))
            } catch {
                Issue.record("\(error)\nreplay: swift run drover-fuzz \(target.rawValue) --seed \(seed)")
                return
            }
        }
    }

    @Test(arguments: FuzzTarget.allCases)
    func theSameSeedGivesTheSameInput(target: FuzzTarget) {
        #expect(target.input(seed: 42) == target.input(seed: 42))
        #expect(target.input(seed: 42) != target.input(seed: 43))
    }

    @Test func emptyAndTinyInputsRun() throws {
        for target in FuzzTarget.allCases {
            try target.run([])
            try target.run([0])
            try target.run([0xFF, 0xFF, 0xFF])
        }
    }

    @Test func everyAcceptedMessageIsTried() {
        #expect(MessageFuzzing.messageNames.count == 11)
        #expect(MessageFuzzing.messageNames.contains("drover.v1.WorkerEvents"))
        #expect(MessageFuzzing.messageNames.contains("drover.v1.NannyStatusRequest"))
        #expect(MessageFuzzing.messageNames.contains("drover.v1.ExecuteRequest"))
    }

    @Test func samplesOftenDecode() throws {
        // The seeded decode inputs are worth running only if many are messages, not noise.
        var decoded = 0
        for seed in UInt64(0)..<200 where try MessageFuzzing.run(FuzzTarget.decode.input(seed: seed)) > 2 {
            decoded += 1
        }
        #expect(decoded > 50)
    }
}
