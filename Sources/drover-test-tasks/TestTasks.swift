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

    /// An error that is also a task value: it reaches the client whole.
    struct Refusal: Error, Codable, Equatable, TaskValue {
        var reason: String
        var code: Int
    }

    /// Creates the file at `path` after `milliseconds` (a side effect the tests can see), returns 1.
    static let touch = TaskFunction("test-touch") { (path: String, milliseconds: Int) async throws -> Int in
        try await Task.sleep(for: .milliseconds(milliseconds))
        return FileManager.default.createFile(atPath: path, contents: Data()) ? 1 : 0
    }

    /// Throws a ``Refusal`` with the input as its code.
    static let refuse = TaskFunction("test-refuse") { (x: Int) throws -> Int in
        throw Refusal(reason: "refused", code: x)
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
    /// `x + y` after 2 ms: a task slow enough that a graph of them is still running while workers die.
    static let slowPlus = TaskFunction("test-slow-plus") { (x: Int, y: Int) async throws -> Int in
        try await Task.sleep(for: .milliseconds(2))
        return x + y
    }

    /// `count` bytes, each `seed % 251`: large results made quickly, even in a debug build.
    static let filled = TaskFunction("test-filled") { (count: Int, seed: Int) -> [UInt8] in
        [UInt8](repeating: UInt8(seed % 251), count: max(0, count))
    }

    static let blockingSleep = TaskFunction("test-blocking-sleep") { (milliseconds: Int) -> Int in
        usleep(UInt32(milliseconds) * 1000)
        return milliseconds
    }

    /// Waits (up to 30 s, blocking its thread, so that not even cancellation stops it) until the
    /// file at `path` exists, then returns the sum of `value`'s bytes, read after whatever the test
    /// did meanwhile (kill the value's producer), and also writes it to `<path>.sum` (the scheduler
    /// may have given up on this task by then); -1 on timeout.
    static let checksumWhen = TaskFunction("test-checksum-when") { (path: String, value: Data) -> Int in
        let deadline = ContinuousClock.now + .seconds(30)
        while !FileManager.default.fileExists(atPath: path) {
            guard ContinuousClock.now < deadline else { return -1 }
            usleep(20_000)
        }
        let sum = value.reduce(0) { $0 + Int($1) }
        FileManager.default.createFile(atPath: path + ".sum", contents: Data(String(sum).utf8))
        return sum
    }

    /// `count` bytes of 1 as `Data` (every page written at memset speed, even in a debug build).
    static let ones = TaskFunction("test-ones") { (count: Int) -> Data in Data(repeating: 1, count: max(0, count)) }

    /// The sum of `Double`s read in place.
    static let sumPacked = TaskFunction("test-sum-packed") { (values: PackedArray<Double>) -> Double in
        values.withUnsafeBufferPointer { $0.reduce(0, +) }
    }

    /// The sum of a `[Double]`.
    static let sumDoubles = TaskFunction("test-sum-doubles") { (values: [Double]) -> Double in values.reduce(0, +) }

    /// Its argument with every element doubled, changed in place (a copy, if the array's storage
    /// is shared with anything else: the payload it was decoded from).
    static let doubleInPlace = TaskFunction("test-double-in-place") { (values: [Double]) -> [Double] in
        var values = values
        for index in values.indices { values[index] *= 2 }
        return values
    }
}
