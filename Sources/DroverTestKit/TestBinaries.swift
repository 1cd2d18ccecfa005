import Foundation

/// Finds the executables built next to the running test bundle.
public enum TestBinaries {
    /// The path of the executable `name` built by `swift build` with the tests.
    ///
    /// Looks in the directory of the running test binary, or in `$DROVER_BIN_DIR` when set.
    public static func path(_ name: String) -> String {
        if let directory = ProcessInfo.processInfo.environment["DROVER_BIN_DIR"] {
            return directory + "/" + name
        }
        let runner =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: runner).deletingLastPathComponent()
        // On Linux the runner is `<bin>/<package>PackageTests.xctest`; elsewhere it may sit inside a bundle.
        while !FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent(name).path),
            directory.path != "/"
        {
            directory.deleteLastPathComponent()
        }
        return directory.appendingPathComponent(name).path
    }

    /// The test build of `drover` with the test task functions (`drover-test-tasks`).
    public static var testTasks: String { path("drover-test-tasks") }
}
