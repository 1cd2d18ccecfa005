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

    /// Kills its own process with the given signal, with the default action (no crash handler).
    static let crash = TaskFunction("test-crash") { (number: Int) -> Int in
        signal(Int32(number), SIG_DFL)
        // raise, not kill(getpid()): in a threaded process kill may deliver the signal to another
        // thread and let this one return first.
        raise(Int32(number))
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
