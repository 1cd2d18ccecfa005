public import DroverCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where progress bars are written, and how they are shown there.
public struct ProgressOutput: Sendable {
    /// Bars redrawn in place, or plain lines.
    public var style: ProgressDisplay.Style
    /// Writes text as it is (lines end in `"\n"`).
    public var write: @Sendable (String) -> Void

    /// An output that hands the text to `write`.
    public init(style: ProgressDisplay.Style, write: @escaping @Sendable (String) -> Void) {
        self.style = style
        self.write = write
    }

    /// Standard output: bars redrawn in place when it is a terminal (as wide as the terminal, or
    /// `COLUMNS`, or 80 columns), plain lines otherwise (a pipe, a file, CI).
    ///
    /// Whatever `print` buffered is flushed first, so the bars come after it.
    public static var standardOutput: ProgressOutput {
        let style: ProgressDisplay.Style = isatty(STDOUT_FILENO) == 1 ? .terminal(width: terminalWidth()) : .plain
        return ProgressOutput(style: style, write: writeToStandardOutput)
    }

    private static func terminalWidth() -> Int {
        var size = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        if let columns = getenv("COLUMNS").flatMap({ Int(String(cString: $0)) }), columns > 0 { return columns }
        return 80
    }
}

/// Writes `text` to file descriptor 1 after flushing what `print` buffered, so it comes after that.
@Sendable private func writeToStandardOutput(_ text: String) {
    fflush(nil)
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let written = bytes.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
        if written < 0 && errno == EINTR { continue }
        guard written > 0 else { return }  // a closed pipe: progress is not worth failing the computation for
        bytes = bytes.dropFirst(written)
    }
}

extension Client {
    // MARK: - Progress

    /// Draws a progress bar per function while the futures complete, like `distributed.progress`,
    /// and returns when every one is done.
    ///
    /// A future that fails or is cancelled counts as done and shows as erred or cancelled; it does
    /// not make this throw (its `result()` does). The bars follow the client's own record of
    /// completions (no request to the scheduler) and are redrawn at most once per `interval`.
    ///
    /// ```swift
    /// try await client.progress(incs, doubles, adds)   // futures of any value types
    /// ```
    ///
    /// - Parameters:
    ///   - futures: Arrays of futures; a key held by several futures counts once.
    ///   - output: Where the bars go; by default standard output, plain lines when it is not a terminal.
    ///   - interval: The least time between two redraws.
    /// - Throws: ``ClientError`` when the client closes first; `CancellationError` when the calling
    ///   task is cancelled. The bars are drawn as they stood either way.
    public func progress<each Value: TaskValue>(
        _ futures: repeat [Future<each Value>], output: ProgressOutput = .standardOutput,
        interval: Duration = .milliseconds(100)
    ) async throws {
        // The caller's arrays hold the futures, so their keys stay referenced until this returns.
        try await progress(of: Self.keys(of: repeat each futures), output: output, interval: interval)
    }

    private static func keys<each Value: TaskValue>(of futures: repeat [Future<each Value>]) -> [TaskKey] {
        var keys: [TaskKey] = []
        for list in repeat each futures {
            for future in list { keys.append(future.key) }
        }
        return keys
    }

    func progress(of keys: [TaskKey], output: ProgressOutput, interval: Duration) async throws {
        let clock = ContinuousClock()
        let start = clock.now
        let run = ProgressRun(bars: ProgressBars(keys: keys), output: output)
        // Those done already are in the first frame (the stream repeats them; a key counts once).
        for key in keys { if let outcome = outcome(of: key) { run.record(key, outcome, at: .zero) } }
        run.draw()
        let completions = self.completions(of: Set(keys))
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await key in completions {
                    run.record(key, self.outcome(of: key) ?? .finished, at: clock.now - start)
                }
            }
            group.addTask {
                while (try? await Task.sleep(for: interval)) != nil { run.draw() }
            }
            await group.next()  // the completions end (the ticker only ends when cancelled)
            group.cancelAll()
        }
        run.draw()
        let remaining = run.remaining
        if remaining == 0 { return }
        try Task.checkCancellation()
        throw ClientError(message: "The client closed while showing the progress of \(remaining) futures.")
    }

    /// How `key` ended, or nil while it is not done.
    private func outcome(of key: TaskKey) -> ProgressBars.Outcome? {
        switch status(of: key) {
        case .finished: .finished
        case .error: .erred
        case .cancelled: .cancelled
        case .pending, .lost: nil
        }
    }
}

/// The bars of one `progress` call, shared by the task that records completions and the one that
/// redraws.
private final class ProgressRun: Sendable {
    private struct State {
        var bars: ProgressBars
        var display: ProgressDisplay
        var isDrawn = false
    }

    private let state: Mutex<State>
    private let output: ProgressOutput

    init(bars: ProgressBars, output: ProgressOutput) {
        self.state = Mutex(State(bars: bars, display: ProgressDisplay(style: output.style)))
        self.output = output
    }

    /// How many keys are not done.
    var remaining: Int {
        state.withLock { state in state.bars.bars.reduce(0) { $0 + $1.total - $1.done } }
    }

    func record(_ key: TaskKey, _ outcome: ProgressBars.Outcome, at elapsed: Duration) {
        state.withLock { state in
            if state.bars.record(key, outcome, at: elapsed) { state.isDrawn = false }
        }
    }

    /// Writes what changed since the last draw. The write happens under the lock so that two
    /// frames never interleave.
    func draw() {
        state.withLock { state in
            guard !state.isDrawn else { return }
            state.isDrawn = true
            let text = state.display.update(state.bars)
            if !text.isEmpty { output.write(text) }
        }
    }
}
