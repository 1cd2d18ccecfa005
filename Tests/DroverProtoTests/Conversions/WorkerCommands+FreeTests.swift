import DroverCore
import DroverProto
import Testing

@Suite struct WorkerCommandsFreeTests {
    private func keys(_ range: Range<Int>) -> [TaskKey] { range.map { TaskKey("k\($0)") } }

    private func frees(_ commands: [Drover_V1_WorkerCommand]) -> [[String]?] {
        commands.map { if case .free(let free)? = $0.kind { free.keys } else { nil } }
    }

    @Test func consecutiveFreesShareACommandUpToTheLimit() {
        var commands: [Drover_V1_WorkerCommand] = []
        commands.appendFree(keys(0..<2), maxKeys: 3)
        commands.appendFree(keys(2..<3), maxKeys: 3)
        #expect(frees(commands) == [["k0", "k1", "k2"]])
        commands.appendFree(keys(3..<10), maxKeys: 3)
        #expect(frees(commands) == [["k0", "k1", "k2"], ["k3", "k4", "k5"], ["k6", "k7", "k8"], ["k9"]])
        #expect(commands.flatMap { $0.free.keys } == keys(0..<10).map(\.rawValue))
    }

    @Test func aFreeNeverMovesPastAnotherCommand() {
        var commands: [Drover_V1_WorkerCommand] = []
        commands.appendFree(keys(0..<1))
        var compute = Drover_V1_WorkerCommand()
        compute.kind = .compute(Drover_V1_ComputeTask())
        commands.append(compute)
        commands.appendFree(keys(1..<2))
        #expect(frees(commands) == [["k0"], nil, ["k1"]])
    }

    @Test func nothingToFreeAddsNothing() {
        var commands: [Drover_V1_WorkerCommand] = []
        commands.appendFree([TaskKey]())
        #expect(commands.isEmpty)
    }

    @Test func tenThousandSingleKeyFreesBecomeThreeCommands() {
        var commands: [Drover_V1_WorkerCommand] = []
        for key in keys(0..<10_000) { commands.appendFree([key]) }
        #expect(commands.map(\.free.keys.count) == [4096, 4096, 1808])
    }
}
