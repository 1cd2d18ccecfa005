public import DroverCore
import Foundation

extension Delayed {
    /// The task graph drawn as SVG by Graphviz's `dot` (``Delayed/dot()`` is the text it draws),
    /// like Dask's `visualize()`.
    ///
    /// - Throws: ``GraphvizError`` when `dot` is not installed or fails.
    public func svg() throws -> String {
        try Graphviz.render(dot(), format: "svg")
    }
}

/// Graphviz's `dot` could not draw a graph.
public struct GraphvizError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

enum Graphviz {
    /// Where `dot` is, if it is on `PATH`.
    static var executable: String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/dot" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs `dot -T<format>` on `text` and returns what it prints.
    static func render(_ text: String, format: String) throws -> String {
        guard let executable else {
            throw GraphvizError(
                description: "Graphviz's `dot` is not on PATH (install graphviz, e.g. apt-get install graphviz); "
                    + "Delayed.dot() gives the DOT text without it.")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-T\(format)"]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Write on a thread of its own: a large graph fills the pipe before dot prints anything.
        let data = Data(text.utf8)
        Thread.detachNewThread {
            input.fileHandleForWriting.write(data)
            try? input.fileHandleForWriting.close()
        }
        let rendered = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw GraphvizError(description: "`dot -T\(format)` exited with code \(process.terminationStatus).")
        }
        return String(decoding: rendered, as: UTF8.self)
    }
}
