import DroverTestKit

/// The fuzz targets, for the test suite, the seeded runner and the libFuzzer entry point.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// ``MessageFuzzing``: bytes decoded as every accepted message.
    case decode
    /// ``WorkerStateFuzzing``: event sequences fed to a `WorkerState`.
    case worker
    /// ``SchedulerStateFuzzing``: event sequences fed to a `SchedulerState`.
    case scheduler

    /// Runs one input.
    ///
    /// - Throws: ``FuzzFinding`` when an invariant breaks.
    public func run(_ bytes: [UInt8]) throws(FuzzFinding) {
        switch self {
        case .decode: try MessageFuzzing.run(bytes)
        case .worker: try WorkerStateFuzzing.run(bytes)
        case .scheduler: try SchedulerStateFuzzing.run(bytes)
        }
    }

    /// The input a seed stands for: random bytes for the event targets, a mutated message for
    /// ``decode`` (random bytes alone rarely decode). The same seed gives the same input.
    public func input(seed: UInt64) -> [UInt8] {
        var random = SeededRandom(seed: seed)
        switch self {
        case .decode:
            let choices = FuzzInput.seeded(&random, count: 256)
            // Now and then raw bytes, as they arrive from a confused or hostile peer.
            return choices[0] < 16 ? Array(choices.dropFirst()) : MessageFuzzing.sample(from: choices)
        case .worker, .scheduler:
            return FuzzInput.seeded(&random, count: 768)
        }
    }
}
