import DroverCore
import Foundation

/// Task functions for tests: they fail, crash, or report where they run.
enum TestTasks {
    struct Boom: Error, CustomStringConvertible {
        var description: String
    }

    /// Throws an error whose message names the input.
    static let fail = TaskFunction("test-fail") { (x: Int) throws -> Int in
        throw Boom(description: "boom on \(x)")
    }

    /// Kills its own process with the given signal.
    static let crash = TaskFunction("test-crash") { (signal: Int) -> Int in
        kill(getpid(), Int32(signal))
        return 0
    }

    /// Returns the pid of the process that ran it, after a pause so that several processes get work.
    static let processID = TaskFunction("test-pid") { (x: Int) -> Int in
        usleep(100_000)
        return Int(getpid())
    }

    /// Blocks its thread (not a Swift sleep) for the given milliseconds.
    static let blockingSleep = TaskFunction("test-blocking-sleep") { (milliseconds: Int) -> Int in
        usleep(UInt32(milliseconds) * 1000)
        return milliseconds
    }
}
