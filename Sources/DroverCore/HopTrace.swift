import Glibc
import Synchronization

/// Timestamps at the hand-offs a message makes inside a process (read on the event loop, decoded,
/// handled, queued, written), for finding where a submit→result round trip spends its time.
///
/// Off unless the environment names a directory in `DROVER_HOP_TRACE` (read once, at the first
/// mark); off, a mark costs one load and one branch. On, each process appends
/// `<CLOCK_MONOTONIC ns> <point>` lines to `<directory>/<role>-<pid>.trace`, flushed every 256
/// marks and by ``flush()``. `CLOCK_MONOTONIC` is one clock for every process on a machine, so the
/// marks of the client, the scheduler and the workers can be merged into one timeline
/// (`drover bench cluster --only submit_result` does, when the variable is set).
public enum HopTrace {
    /// The environment variable naming the directory to write to.
    public static let variable = "DROVER_HOP_TRACE"

    private static let recorder: Recorder? = {
        guard let directory = getenv(variable).map({ String(cString: $0) }), !directory.isEmpty else { return nil }
        return Recorder(directory: directory)
    }()

    /// Whether marks are being recorded.
    public static var isOn: Bool { recorder != nil }

    /// Records that this process reached `point` now.
    @inline(__always)
    public static func mark(_ point: StaticString) {
        guard let recorder else { return }
        recorder.record(point, at: now())
    }

    /// Writes the marks not yet written.
    public static func flush() {
        recorder?.flush()
    }

    /// `CLOCK_MONOTONIC`, in nanoseconds.
    public static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    private final class Recorder: Sendable {
        let path: String
        let marks = Mutex<[(StaticString, UInt64)]>([])

        init(directory: String) {
            let role = CommandLine.arguments.dropFirst().first.map { $0.filter { $0.isLetter } } ?? "process"
            path = "\(directory)/\(role.isEmpty ? "process" : role)-\(getpid()).trace"
        }

        func record(_ point: StaticString, at time: UInt64) {
            let full = marks.withLock { marks in
                marks.append((point, time))
                guard marks.count >= 256 else { return [(StaticString, UInt64)]() }
                defer { marks.removeAll(keepingCapacity: true) }
                return marks
            }
            if !full.isEmpty { write(full) }
        }

        func flush() {
            write(
                marks.withLock { marks in
                    defer { marks.removeAll(keepingCapacity: true) }
                    return marks
                })
        }

        private func write(_ batch: [(StaticString, UInt64)]) {
            guard !batch.isEmpty else { return }
            var text = ""
            for (point, time) in batch { text += "\(time) \(point)\n" }
            let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o600)
            guard descriptor >= 0 else { return }
            defer { close(descriptor) }
            var bytes = Array(text.utf8)
            _ = bytes.withUnsafeMutableBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        }
    }
}
