public import DroverCore

/// How many futures of each function are done: what ``Client/progress(_:output:interval:)`` draws,
/// one bar per function, as `distributed.progress` has one per task-key prefix.
///
/// A pure value: ``record(_:_:at:)`` counts each key once, and ``lines(width:)`` draws the bars.
/// Time is an input (the elapsed time of each completion), so the same records draw the same lines.
public struct ProgressBars: Sendable, Equatable {
    /// The futures of one function.
    public struct Bar: Sendable, Equatable {
        /// The function's name, from the keys (``ProgressBars/functionName(of:)``).
        public var name: String
        /// How many distinct keys of this function are followed.
        public var total: Int
        /// How many finished with a result.
        public var finished = 0
        /// How many failed (their own error or one of a dependency).
        public var erred = 0
        /// How many were cancelled.
        public var cancelled = 0
        /// The time from the start of progress to the completion of the last of them; nil until then.
        public var completedAfter: Duration?

        /// How many are done, one way or another.
        public var done: Int { finished + erred + cancelled }
        /// Whether every one is done.
        public var isComplete: Bool { done == total }
    }

    /// How a future ended.
    public enum Outcome: Sendable, Equatable {
        case finished
        case erred
        case cancelled
    }

    /// The bars, in the order their functions first appear among the keys.
    public private(set) var bars: [Bar] = []
    /// The keys not yet recorded, and the bar of each.
    private var pending: [TaskKey: Int] = [:]

    /// The widest name column; longer names are shortened.
    static let maxNameWidth = 24
    /// The widest bar, between the brackets.
    static let maxBarWidth = 40
    /// The narrowest bar worth drawing; below this the line has no bar.
    static let minBarWidth = 10
    /// Columns kept for the notes after the counts (time, erred, cancelled), so bars keep their width.
    static let notesWidth = 24

    /// Follows `keys` (each distinct key once), grouped by function.
    public init(keys: [TaskKey]) {
        var barOfName: [String: Int] = [:]
        for key in keys where pending[key] == nil {
            let name = Self.functionName(of: key)
            let index =
                barOfName[name]
                ?? {
                    bars.append(Bar(name: name, total: 0))
                    barOfName[name] = bars.count - 1
                    return bars.count - 1
                }()
            bars[index].total += 1
            pending[key] = index
        }
    }

    /// Whether every key is done.
    public var isComplete: Bool { pending.isEmpty }

    /// Counts `key` as done with `outcome`, `elapsed` after progress began.
    ///
    /// - Returns: Whether anything changed: false for a key not followed or already recorded.
    @discardableResult
    public mutating func record(_ key: TaskKey, _ outcome: Outcome, at elapsed: Duration) -> Bool {
        guard let index = pending.removeValue(forKey: key) else { return false }
        switch outcome {
        case .finished: bars[index].finished += 1
        case .erred: bars[index].erred += 1
        case .cancelled: bars[index].cancelled += 1
        }
        if bars[index].isComplete { bars[index].completedAfter = elapsed }
        return true
    }

    /// The function a key belongs to: the key without its trailing token (`"inc-0.5s-<32 hex>"` is
    /// `"inc-0.5s"`), like Dask's `key_split`; a key without one is its own name.
    public static func functionName(of key: TaskKey) -> String {
        let text = key.rawValue
        guard let dash = text.lastIndex(of: "-"), dash != text.startIndex else { return text }
        let token = text[text.index(after: dash)...]
        let isToken = token.count >= 8 && token.allSatisfy(\.isHexDigit)
        return isToken ? String(text[..<dash]) : text
    }

    // MARK: - Drawing

    /// One line per bar, at most `width - 1` columns (so a terminal never wraps them):
    /// `inc       [####################                    ]   4/8`,
    /// `add       [###############xxxxx                    ]   5/10 (2 erred)`,
    /// `double    [########################################]  10/10 in 1.02 s`.
    ///
    /// `#` is a finished future, `x` one that erred or was cancelled. When `width` leaves no room
    /// for a bar of ``minBarWidth`` columns, the lines have no bar (see ``plainLines()``).
    public func lines(width: Int) -> [String] {
        let layout = Layout(bars)
        let fixed = layout.nameWidth + 4 + 2 + layout.countWidth + Self.notesWidth
        let barWidth = min(Self.maxBarWidth, width - 1 - fixed)
        guard barWidth >= Self.minBarWidth else {
            return plainLines().map { String($0.prefix(max(0, width - 1))) }
        }
        return bars.map { bar in
            let line = layout.name(bar) + "  [" + Self.fill(bar, width: barWidth) + "]  " + layout.counts(bar)
            return String(line.prefix(width - 1))
        }
    }

    /// One line per bar without the bar, for output that is not a terminal:
    /// `add     10/10 in 2.51 s (2 erred)`.
    public func plainLines() -> [String] {
        let layout = Layout(bars)
        return bars.map { layout.name($0) + "  " + layout.counts($0) }
    }

    /// The cells between the brackets: finished, then erred or cancelled, then blanks.
    private static func fill(_ bar: Bar, width: Int) -> String {
        guard bar.total > 0 else { return String(repeating: " ", count: width) }
        let doneCells = bar.done * width / bar.total
        let finishedCells = min(doneCells, bar.finished * width / bar.total)
        return String(repeating: "#", count: finishedCells) + String(repeating: "x", count: doneCells - finishedCells)
            + String(repeating: " ", count: width - doneCells)
    }

    /// Column widths shared by every line, so the bars and counts line up.
    private struct Layout {
        let nameWidth: Int
        let countWidth: Int

        init(_ bars: [Bar]) {
            nameWidth = min(ProgressBars.maxNameWidth, bars.map(\.name.count).max() ?? 0)
            countWidth = bars.map { 2 * String($0.total).count + 1 }.max() ?? 0
        }

        func name(_ bar: Bar) -> String {
            let name = bar.name.count > nameWidth ? String(bar.name.prefix(nameWidth - 3)) + "..." : bar.name
            return name + String(repeating: " ", count: nameWidth - name.count)
        }

        /// `"  4/10 in 1.02 s (2 erred, 1 cancelled)"`, the count right-aligned.
        func counts(_ bar: Bar) -> String {
            let count = "\(bar.done)/\(bar.total)"
            var text = String(repeating: " ", count: max(0, countWidth - count.count)) + count
            if let after = bar.completedAfter { text += " in " + Self.seconds(after) + " s" }
            var failures: [String] = []
            if bar.erred > 0 { failures.append("\(bar.erred) erred") }
            if bar.cancelled > 0 { failures.append("\(bar.cancelled) cancelled") }
            if !failures.isEmpty { text += " (" + failures.joined(separator: ", ") + ")" }
            return text
        }

        /// `1.02`: seconds with two decimals.
        static func seconds(_ duration: Duration) -> String {
            let hundredths = max(0, Int((duration / .milliseconds(10)).rounded()))
            let fraction = hundredths % 100
            return "\(hundredths / 100)." + (fraction < 10 ? "0" : "") + String(fraction)
        }
    }
}
