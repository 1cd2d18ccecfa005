import DroverFuzzing
import Foundation

/// The target libFuzzer runs, read once from `DROVER_FUZZ_TARGET`.
enum LibFuzzerTarget {
    static let current: FuzzTarget = {
        let name = ProcessInfo.processInfo.environment["DROVER_FUZZ_TARGET"] ?? "decode"
        guard let target = FuzzTarget(rawValue: name) else {
            fatalError("DROVER_FUZZ_TARGET=\(name): expected one of \(FuzzTarget.allCases.map(\.rawValue))")
        }
        return target
    }()
}

/// Runs seeded inputs for a while and prints how many ran, how fast, and any finding with the
/// seed that replays it.
enum SeededRunner {
    static func main(_ arguments: [String]) {
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
            print(
                "usage: drover-fuzz <\(FuzzTarget.allCases.map(\.rawValue).joined(separator: "|"))> [seconds] [--seed S]"
            )
            exit(64)
        }
        let seconds = arguments.dropFirst().first.flatMap { Double($0) } ?? 10
        if let flag = arguments.firstIndex(of: "--seed"), flag + 1 < arguments.count,
            let seed = UInt64(arguments[flag + 1])
        {
            replay(target, seed: seed)
        }
        let start = ContinuousClock.now
        let deadline = start + .milliseconds(Int(seconds * 1000))
        var seed = UInt64.random(in: 0...UInt64.max)
        var inputs = 0
        while ContinuousClock.now < deadline {
            for _ in 0..<64 {
                seed &+= 1
                do {
                    try target.run(target.input(seed: seed))
                } catch {
                    print("\(error)\nreplay: drover-fuzz \(target.rawValue) --seed \(seed)")
                    report(target, inputs: inputs + 1, since: start, findings: 1)
                    exit(1)
                }
                inputs += 1
            }
        }
        report(target, inputs: inputs, since: start, findings: 0)
        exit(0)
    }

    private static func replay(_ target: FuzzTarget, seed: UInt64) -> Never {
        do {
            try target.run(target.input(seed: seed))
            print("\(target.rawValue): seed \(seed) passes")
            exit(0)
        } catch {
            print("\(error)")
            exit(1)
        }
    }

    private static func report(_ target: FuzzTarget, inputs: Int, since start: ContinuousClock.Instant, findings: Int) {
        let elapsed = (ContinuousClock.now - start) / .seconds(1)
        let rate = Int((Double(inputs) / max(elapsed, 0.001)).rounded())
        print(
            "\(target.rawValue): \(inputs) inputs in \(String(format: "%.1f", elapsed)) s, \(rate) inputs/s, \(findings) crashes"
        )
    }
}
