/// Turns successive states of ``ProgressBars`` into the text to write: bars redrawn in place on a
/// terminal, or plain lines for a pipe or a file.
///
/// A pure value that remembers what it has written. On a terminal, each ``update(_:)`` moves the
/// cursor back up over the lines it drew before (`ESC [ n A`) and rewrites each one (`CR`, the line,
/// `ESC [ K` to clear what is left of the old one). Plain output never has control characters: one
/// line per function, once, when the last of its futures is done.
public struct ProgressDisplay: Sendable, Equatable {
    /// How the output is shown.
    public enum Style: Sendable, Equatable {
        /// A terminal `width` columns wide: bars redrawn in place.
        case terminal(width: Int)
        /// Anything else: a plain line per function as it completes.
        case plain
    }

    /// How the output is shown.
    public let style: Style
    /// How many lines the last terminal frame drew (the cursor is below them).
    private var linesDrawn = 0
    /// The bars whose plain line was written.
    private var reported: Set<Int> = []

    /// A display that has written nothing yet.
    public init(style: Style) {
        self.style = style
    }

    /// The text that brings the output up to date with `bars`; empty when there is nothing to add.
    public mutating func update(_ bars: ProgressBars) -> String {
        switch style {
        case .terminal(let width):
            let lines = bars.lines(width: width)
            guard !lines.isEmpty else { return "" }
            let up = linesDrawn > 0 ? "\u{1B}[\(linesDrawn)A" : ""
            linesDrawn = lines.count
            return up + lines.map { "\r" + $0 + "\u{1B}[K\n" }.joined()
        case .plain:
            var text = ""
            for (index, line) in bars.plainLines().enumerated()
            where bars.bars[index].isComplete && !reported.contains(index) {
                reported.insert(index)
                text += line + "\n"
            }
            return text
        }
    }
}
