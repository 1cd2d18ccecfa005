import DroverCore
import Foundation
import Testing

/// The README's "Use Drover in your package" section shows `Tests/Fixtures/UseDrover`: its
/// `Package.swift` and its `main.swift`, the tutorial's two halves. The test build compiles that
/// `main.swift` as `drover-tutorial`; these tests run it and check that the README shows both files
/// verbatim. (`scripts/test` also builds the fixture as a package of its own, through its manifest.)
@Suite(.timeLimit(.minutes(2))) struct UseDroverPackageTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let fixture = "Tests/Fixtures/UseDrover"

    @Test(arguments: ["Package.swift", "Sources/tutorial/main.swift"])
    func theReadmeShowsTheFixtureVerbatim(file: String) throws {
        let readme = try String(contentsOf: Self.repository.appendingPathComponent("README.md"), encoding: .utf8)
        let path = "\(Self.fixture)/\(file)"
        let source = try String(contentsOf: Self.repository.appendingPathComponent(path), encoding: .utf8)
        let block = try #require(
            Self.codeBlock(after: "<!-- \(path) -->", in: readme), "README has no block for \(path)")
        #expect(block == source, "README's block for \(path) differs from the file")
    }

    @Test func theTutorialProgramRunsBothHalves() async throws {
        let run = try await CarelessRun(binary: "drover-tutorial")
        defer { run.removeFiles() }
        try #require(run.finished, "the program did not finish; its log:\n\(run.log)")
        #expect(run.exit == .exited(code: 0), "log:\n\(run.log)")
        #expect(
            run.output == [
                "threads: 36", "processes: 36", "cluster: 36", "submit: 2", "map: [1, 2, 3, 4, 5, 6, 7, 8]",
                "exercise: 145",
            ], "log:\n\(run.log)")
        #expect(run.survivors.isEmpty, "processes left running: \(run.survivors)")
    }

    /// The text of the fenced block that follows `marker`, without its fences.
    static func codeBlock(after marker: String, in text: String) -> String? {
        guard let start = text.range(of: marker) else { return nil }
        let rest = text[start.upperBound...]
        guard let open = rest.range(of: "```swift\n") else { return nil }
        let body = rest[open.upperBound...]
        guard let close = body.range(of: "\n```\n") else { return nil }
        return String(body[..<close.lowerBound]) + "\n"
    }
}
