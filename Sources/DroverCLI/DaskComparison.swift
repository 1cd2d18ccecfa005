import Foundation

/// Runs Dask's side of a benchmark: a Python script printing one JSON object per line.
enum DaskComparison {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The Python with Dask: `$DROVER_DASK_PYTHON`, else `.venv-bench/bin/python` (made by `scripts/dask-venv`).
    static var python: String {
        ProcessInfo.processInfo.environment["DROVER_DASK_PYTHON"] ?? ".venv-bench/bin/python"
    }

    /// The Python with Ray: `$DROVER_RAY_PYTHON`, else `.venv-ray/bin/python`.
    static var rayPython: String {
        ProcessInfo.processInfo.environment["DROVER_RAY_PYTHON"] ?? ".venv-ray/bin/python"
    }

    /// Runs `script` and returns its JSON lines as string dictionaries.
    static func run(script: String, arguments: [String], python: String = python) async throws -> [[String: String]] {
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw Failure(
                description:
                    "no Python at \(python): run scripts/dask-venv (or make .venv-ray with pip install ray numpy)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script] + arguments
        let output = Pipe()
        process.standardOutput = output
        // Read on a thread of its own so neither a full pipe nor the wait blocks Swift's pool.
        let data: Data = try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                do {
                    try process.run()
                    let data = output.fileHandleForReading.readDataToEndOfFile()
                    process.waitUntilExit()
                    guard process.terminationStatus == 0 else {
                        throw Failure(description: "\(python) \(script) exited with \(process.terminationStatus)")
                    }
                    continuation.resume(returning: data)
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
        return parse(data)
    }

    /// JSON lines as string dictionaries (other lines are skipped).
    static func parse(_ data: Data) -> [[String: String]] {
        String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                return nil
            }
            return object.mapValues { "\($0)" }
        }
    }
}
