import DroverCore
import Foundation

/// Where submit→result round trips spent their time, from the marks every process of the cluster
/// wrote (``HopTrace``, on when `DROVER_HOP_TRACE` names a directory).
///
/// A round trip runs from the bench's `bench.submit` mark to its next `bench.result`. It is cut
/// at the worker's body: going back from the body's start, the worker's last frame read, the
/// scheduler's last frame written before it and read before that, the client's last frame
/// written before that; going on from the body's end, the first frame the worker wrote, the
/// scheduler read and wrote, and the client read. Round trips where one of these is missing or out
/// of order are left out; for the rest, the median of each segment.
struct HopTraceReport {
    static let segments = [
        "client: submit() -> frame written", "loopback client -> scheduler",
        "scheduler: frame read -> frame to the worker written", "loopback scheduler -> worker",
        "worker: frame read -> body starts", "the body", "worker: body ends -> frame written",
        "loopback worker -> scheduler", "scheduler: frame read -> frame to the client written",
        "loopback scheduler -> client", "client: frame read -> result() returns", "round trip",
    ]

    /// Median microseconds per segment (``segments``), and how many round trips had every cut.
    var medians: [Double] = []
    var counted = 0
    var total = 0

    /// Reads every `*.trace` file in `directory`.
    init(directory: String) throws {
        var times: [String: [UInt64]] = [:]
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".trace") }
        for file in files {
            let role = String(file.prefix { $0 != "-" })
            let process = role == "bench" ? "client" : role
            let text = try String(contentsOfFile: directory + "/" + file, encoding: .utf8)
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: " ", maxSplits: 1)
                guard parts.count == 2, let time = UInt64(parts[0]) else { continue }
                times["\(process):\(parts[1])", default: []].append(time)
            }
        }
        for key in times.keys { times[key]!.sort() }
        // The first index in `all` (sorted) whose time is above `time`.
        func firstAbove(_ time: UInt64, in all: [UInt64]) -> Int {
            var (low, high) = (0, all.count)
            while low < high {
                let middle = (low + high) / 2
                if all[middle] <= time { low = middle + 1 } else { high = middle }
            }
            return low
        }
        func before(_ name: String, _ time: UInt64?) -> UInt64? {
            guard let time, let all = times[name] else { return nil }
            let index = firstAbove(time - 1, in: all)
            return index > 0 ? all[index - 1] : nil
        }
        func after(_ name: String, _ time: UInt64?) -> UInt64? {
            guard let time, let all = times[name] else { return nil }
            let index = firstAbove(time, in: all)
            return index < all.count ? all[index] : nil
        }
        var rows: [[Double]] = []
        let submits = times["client:bench.submit"] ?? []
        total = submits.count
        for start in submits {
            let end = after("client:bench.result", start)
            let bodyStart = after("worker:worker.body.start", start)
            let workerRead = before("worker:loop.read", bodyStart)
            let schedulerWrite = before("scheduler:loop.write", workerRead)
            let schedulerRead = before("scheduler:loop.read", schedulerWrite)
            let clientWrite = before("client:loop.write", schedulerRead)
            let bodyEnd = after("worker:worker.body.end", bodyStart)
            let workerWrite = after("worker:loop.write", bodyEnd)
            let schedulerRead2 = after("scheduler:loop.read", workerWrite)
            let schedulerWrite2 = after("scheduler:loop.write", schedulerRead2)
            let clientRead = after("client:loop.read", schedulerWrite2)
            let cuts = [
                start, clientWrite, schedulerRead, schedulerWrite, workerRead, bodyStart, bodyEnd, workerWrite,
                schedulerRead2, schedulerWrite2, clientRead, end,
            ].compactMap { $0 }
            guard cuts.count == 12, cuts == cuts.sorted() else { continue }
            var row = zip(cuts, cuts.dropFirst()).map { Double($1 - $0) / 1000 }
            row.append(Double(cuts[11] - cuts[0]) / 1000)
            rows.append(row)
        }
        counted = rows.count
        guard !rows.isEmpty else { return }
        medians = Self.segments.indices.map { index in
            let sorted = rows.map { $0[index] }.sorted()
            return sorted[sorted.count / 2]
        }
    }

    func render() -> String {
        var lines = ["(b) hand-offs, median of \(counted) of \(total) round trips (cut at the worker's body):"]
        for (name, micros) in zip(Self.segments, medians) {
            lines.append(String(format: "  %7.1f µs  %@", micros, name))
        }
        return lines.joined(separator: "\n")
    }
}
