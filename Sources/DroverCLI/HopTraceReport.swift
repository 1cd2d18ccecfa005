import DroverCore
import Foundation

/// Where submit→result round trips spent their time, from the marks every process of the cluster
/// wrote (``HopTrace``, on when `DROVER_HOP_TRACE` names a directory).
///
/// Each round trip is the span between the bench's `bench.submit` and `bench.result` marks; the
/// marks of every process inside it, in time order, are its hand-offs. Round trips whose hand-offs
/// differ from the most common sequence (a heartbeat crossed them) are left out; for the rest, the
/// median of each step.
struct HopTraceReport {
    struct Mark {
        var time: UInt64
        var name: String
    }

    var steps: [(String, Double)] = []
    var matched = 0
    var total = 0
    var medianTotal = 0.0

    /// Reads every `*.trace` file in `directory`.
    init(directory: String) throws {
        var marks: [Mark] = []
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".trace") }
        for file in files {
            let role = String(file.prefix { $0 != "-" })
            let process = role == "bench" ? "client" : role == "worker" ? "worker" : role
            let text = try String(contentsOfFile: directory + "/" + file, encoding: .utf8)
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: " ", maxSplits: 1)
                guard parts.count == 2, let time = UInt64(parts[0]) else { continue }
                marks.append(Mark(time: time, name: "\(process):\(parts[1])"))
            }
        }
        marks.sort { $0.time < $1.time }
        var trips: [[Mark]] = []
        var current: [Mark]?
        for mark in marks {
            if mark.name == "client:bench.submit" {
                current = [mark]
            } else if current != nil {
                current!.append(mark)
                if mark.name == "client:bench.result" {
                    trips.append(current!)
                    current = nil
                }
            }
        }
        total = trips.count
        var shapes: [[String]: Int] = [:]
        for trip in trips { shapes[trip.map(\.name), default: 0] += 1 }
        guard let shape = shapes.max(by: { $0.value < $1.value })?.key else { return }
        let chosen = trips.filter { $0.map(\.name) == shape }
        matched = chosen.count
        for index in 1..<shape.count {
            let deltas = chosen.map { Double($0[index].time - $0[index - 1].time) / 1000 }.sorted()
            steps.append(("\(shape[index - 1]) → \(shape[index])", deltas[deltas.count / 2]))
        }
        let totals = chosen.map { Double($0.last!.time - $0.first!.time) / 1000 }.sorted()
        medianTotal = totals[totals.count / 2]
    }

    func render() -> String {
        var lines = [
            "(b) hand-offs: \(matched) of \(total) round trips had the most common sequence; median per step:"
        ]
        for (step, micros) in steps { lines.append(String(format: "  %7.1f µs  %@", micros, step)) }
        lines.append(String(format: "  %7.1f µs  in all (median of those round trips)", medianTotal))
        return lines.joined(separator: "\n")
    }
}
