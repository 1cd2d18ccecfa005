import Foundation

/// Runs a peer's side of a benchmark (Dask's or Ray's): a Python script writing one JSON object
/// per line, to stdout or (Ray, which prints its workers' messages on stdout) to a file.
struct PeerComparison: Sendable {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The peer's name in tables and messages.
    var name: String
    /// The variable naming its Python, and the default (made by `venvScript`).
    var pythonVariable: String
    var defaultPython: String
    var venvScript: String
    /// Whether the script takes `--output FILE` for its JSON lines instead of printing them.
    var writesOutputFile: Bool

    static let dask = PeerComparison(
        name: "Dask", pythonVariable: "DROVER_DASK_PYTHON", defaultPython: ".venv-bench/bin/python",
        venvScript: "scripts/dask-venv", writesOutputFile: false)
    static let ray = PeerComparison(
        name: "Ray", pythonVariable: "DROVER_RAY_PYTHON", defaultPython: ".venv-ray/bin/python",
        venvScript: "scripts/ray-venv", writesOutputFile: true)

    var python: String {
        ProcessInfo.processInfo.environment[pythonVariable] ?? defaultPython
    }

    /// Runs `script` and returns its JSON lines as string dictionaries.
    func run(script: String, arguments: [String]) async throws -> [[String: String]] {
        let python = python
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw Failure(
                description: "no Python with \(name) at \(python): run \(venvScript) or set \(pythonVariable)")
        }
        var arguments = arguments
        let outputFile = FileManager.default.temporaryDirectory
            .appendingPathComponent("drover-\(name.lowercased())-bench-\(UUID().uuidString).jsonl").path
        if writesOutputFile { arguments += ["--output", outputFile] }
        defer { if writesOutputFile { try? FileManager.default.removeItem(atPath: outputFile) } }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script] + arguments
        let output = Pipe()
        process.standardOutput = writesOutputFile ? FileHandle.standardError : output
        // Read on a thread of its own so neither a full pipe nor the wait blocks Swift's pool.
        let printed: Data = try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { [writesOutputFile] in
                do {
                    try process.run()
                    let data = writesOutputFile ? Data() : output.fileHandleForReading.readDataToEndOfFile()
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
        let data = writesOutputFile ? (FileManager.default.contents(atPath: outputFile) ?? Data()) : printed
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                return nil
            }
            return object.mapValues { "\($0)" }
        }
    }
}
