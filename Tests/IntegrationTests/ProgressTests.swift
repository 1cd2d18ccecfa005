import DroverClient
import DroverCore
import Synchronization
import Testing

/// What the progress bars draw (pure: ``ProgressBars`` and ``ProgressDisplay``), and
/// `client.progress` over a real cluster.
@Suite(.timeLimit(.minutes(1))) struct ProgressTests {
    static func key(_ function: String, _ number: Int) -> TaskKey {
        var token = Token()
        token.combine(function + String(number))
        return TaskKey(function: function, token: token.hexDigest)
    }

    /// 8 `inc` (4 finished), 10 `add` (5 finished, 2 erred), 10 `double` (all finished after 1.02 s).
    static func bars() -> ProgressBars {
        let incs = (0..<8).map { key("inc", $0) }
        let adds = (0..<10).map { key("add", $0) }
        let doubles = (0..<10).map { key("double", $0) }
        var bars = ProgressBars(keys: incs + adds + doubles)
        for key in incs.prefix(4) { bars.record(key, .finished, at: .milliseconds(300)) }
        for key in adds.prefix(5) { bars.record(key, .finished, at: .milliseconds(700)) }
        for key in adds[5..<7] { bars.record(key, .erred, at: .milliseconds(800)) }
        for key in doubles { bars.record(key, .finished, at: .milliseconds(1016)) }
        return bars
    }

    // MARK: - Pure drawing

    @Test func aKeyBelongsToItsFunction() {
        #expect(ProgressBars.functionName(of: Self.key("inc-0.5s", 1)) == "inc-0.5s")
        #expect(ProgressBars.functionName(of: Self.key("scatter-Int", 1)) == "scatter-Int")
        #expect(ProgressBars.functionName(of: "my-key") == "my-key")
        #expect(ProgressBars.functionName(of: "noop") == "noop")
    }

    @Test func barsGroupKeysByFunctionAndCountEachOnce() {
        let first = Self.key("inc", 0)
        var bars = ProgressBars(keys: [Self.key("double", 0), first, first, Self.key("inc", 1)])
        #expect(bars.bars.map(\.name) == ["double", "inc"])
        #expect(bars.bars.map(\.total) == [1, 2])
        let recorded = bars.record(first, .finished, at: .seconds(1))
        let again = bars.record(first, .erred, at: .seconds(2))  // already counted
        let stranger = bars.record(Self.key("sum", 0), .finished, at: .seconds(2))  // not followed
        #expect(recorded && !again && !stranger)
        #expect(bars.bars[1].finished == 1 && bars.bars[1].erred == 0 && bars.bars[1].completedAfter == nil)
        bars.record(Self.key("inc", 1), .cancelled, at: .seconds(3))
        #expect(bars.bars[1].isComplete && bars.bars[1].completedAfter == .seconds(3))
        #expect(!bars.isComplete)
        bars.record(Self.key("double", 0), .erred, at: .seconds(4))
        #expect(bars.isComplete)
        #expect(bars.plainLines() == ["double  1/1 in 4.00 s (1 erred)", "inc     2/2 in 3.00 s (1 cancelled)"])
    }

    @Test func terminalLinesShowFinishedErredAndPendingInAlignedBars() {
        #expect(
            Self.bars().lines(width: 60) == [
                "inc     [#########         ]    4/8",
                "add     [#########xxx      ]   7/10 (2 erred)",
                "double  [##################]  10/10 in 1.02 s",
            ])
    }

    @Test(arguments: [40, 60, 80, 100, 200])
    func terminalLinesNeverReachTheLastColumn(width: Int) {
        let lines = Self.bars().lines(width: width)
        #expect(lines.count == 3)
        #expect(lines.allSatisfy { $0.count < width })
        let barWidth = lines[0].firstIndex(of: "]").map {
            lines[0].distance(from: lines[0].firstIndex(of: "[")!, to: $0)
        }
        // Bars grow with the terminal up to 40 cells; below 10 cells there is none.
        #expect(barWidth.map { $0 - 1 } == (width - 42 >= 10 ? min(40, width - 42) : nil))
    }

    @Test func longNamesAreShortenedAndNarrowTerminalsGetNoBar() {
        let long = String(repeating: "f", count: 30)
        var bars = ProgressBars(keys: [Self.key(long, 0)])
        bars.record(Self.key(long, 0), .finished, at: .milliseconds(5))
        #expect(bars.plainLines() == [String(repeating: "f", count: 21) + "...  1/1 in 0.01 s"])
        #expect(Self.bars().lines(width: 30) == Self.bars().plainLines())
        #expect(Self.bars().lines(width: 12) == ["inc       4", "add      7/", "double  10/"])
    }

    @Test func aTerminalIsRedrawnInPlace() {
        var display = ProgressDisplay(style: .terminal(width: 55))
        var bars = ProgressBars(keys: [Self.key("inc", 0), Self.key("inc", 1)])
        #expect(display.update(bars) == "\r" + "inc  [                  ]  0/2" + "\u{1B}[K\n")
        bars.record(Self.key("inc", 0), .finished, at: .milliseconds(100))
        bars.record(Self.key("inc", 1), .erred, at: .milliseconds(250))
        #expect(
            display.update(bars)
                == "\u{1B}[1A" + "\r" + "inc  [#########xxxxxxxxx]  2/2 in 0.25 s (1 erred)" + "\u{1B}[K\n")
        var three = ProgressDisplay(style: .terminal(width: 60))
        _ = three.update(Self.bars())
        #expect(three.update(Self.bars()).hasPrefix("\u{1B}[3A\r"))
        #expect(ProgressDisplay(style: .terminal(width: 60)).updated(ProgressBars(keys: [])) == "")
    }

    @Test func aPipeGetsOnePlainLinePerFunctionWhenItCompletes() {
        var display = ProgressDisplay(style: .plain)
        var bars = Self.bars()
        #expect(display.update(bars) == "double  10/10 in 1.02 s\n")
        #expect(display.update(bars) == "")
        for number in 4..<8 { bars.record(Self.key("inc", number), .finished, at: .milliseconds(1500)) }
        for number in 7..<10 { bars.record(Self.key("add", number), .finished, at: .milliseconds(2514)) }
        let rest = display.update(bars)
        #expect(rest == "inc       8/8 in 1.50 s\nadd     10/10 in 2.51 s (2 erred)\n")
        #expect(!rest.contains("\u{1B}") && !rest.contains("\r"))
        #expect(display.update(bars) == "")
    }

    // MARK: - A real cluster

    @Test func progressReturnsWhenEveryFutureIsDoneAndNamesEachFunction() async throws {
        let cluster = try await LocalTestCluster(workers: 2)
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        let sleeps = try client.map(Builtins.sleep, Array(repeating: 0.05, count: 20), pure: false)
        let failing = try client.map(Remote.fail, [1, 2])
        let pipe = Written()
        try await client.progress(sleeps, failing, output: ProgressOutput(style: .plain, write: pipe.append))

        #expect(sleeps.allSatisfy { $0.status == .finished })
        #expect(failing.allSatisfy { $0.status == .error })
        let lines = pipe.text.split(separator: "\n").map(String.init).sorted()
        #expect(lines.count == 2)
        #expect(lines[0].hasPrefix("sleep      20/20 in "), "\(lines)")
        #expect(lines[1].hasPrefix("test-fail    2/2 in ") && lines[1].hasSuffix(" s (2 erred)"), "\(lines)")
        #expect(!pipe.text.contains("\u{1B}") && !pipe.text.contains("\r"))

        // On a terminal, all done already: one frame of full bars.
        let terminal = Written()
        try await client.progress(
            sleeps, failing, output: ProgressOutput(style: .terminal(width: 100), write: terminal.append))
        #expect(terminal.text.hasPrefix("\rsleep      [########################################]  20/20 in "))
        #expect(terminal.text.contains("\rtest-fail  [xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx]    2/2 in "))
        #expect(!terminal.text.contains("\u{1B}[2A"))  // nothing to redraw
        await client.close()
    }

    /// Dask's `progress(x.persist())`: the bars count every task of the graph, not only the result.
    @Test func progressOfALazyValueCountsEveryTaskOfItsGraph() async throws {
        let cluster = try await LocalTestCluster(workers: 2)
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        let parts = (0..<6).map { Builtins.plus.delayed($0, 100) }
        let total = Builtins.sum.delayed(parts)
        let pipe = Written()
        let future = try await client.progress(total, output: ProgressOutput(style: .plain, write: pipe.append))
        let lines = pipe.text.split(separator: "\n").map(String.init).sorted()
        #expect(lines.count == 2, "\(lines)")
        #expect(lines.first?.hasPrefix("plus  6/6 in ") == true, "\(lines)")
        #expect(lines.last?.hasPrefix("sum   1/1 in ") == true, "\(lines)")
        #expect(future.status == .finished)
        #expect(try await future.result() == 615)
        await client.close()
    }
}

extension ProgressDisplay {
    fileprivate func updated(_ bars: ProgressBars) -> String {
        var copy = self
        return copy.update(bars)
    }
}

/// Text written by `progress`, collected.
private final class Written: Sendable {
    private let storage = Mutex("")
    var text: String { storage.withLock { $0 } }

    @Sendable func append(_ text: String) {
        storage.withLock { $0 += text }
    }
}
