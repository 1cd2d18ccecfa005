public import Foundation

/// The task functions the stock `drover` binary knows: the tutorial's and no-ops for benchmarks.
public enum Builtins {
    /// Adds one after sleeping a second (the tutorial's first half).
    public static let inc = TaskFunction("inc") { (x: Int) async throws -> Int in
        try await Task.sleep(for: .seconds(1))
        return x + 1
    }

    /// Adds one after sleeping half a second (the tutorial's exercise).
    public static let incHalfSecond = TaskFunction("inc-0.5s") { (x: Int) async throws -> Int in
        try await Task.sleep(for: .milliseconds(500))
        return x + 1
    }

    /// Doubles after sleeping half a second (the tutorial's exercise).
    public static let double = TaskFunction("double") { (x: Int) async throws -> Int in
        try await Task.sleep(for: .milliseconds(500))
        return 2 * x
    }

    /// Adds after sleeping half a second (the tutorial's exercise).
    public static let add = TaskFunction("add") { (x: Int, y: Int) async throws -> Int in
        try await Task.sleep(for: .milliseconds(500))
        return x + y
    }

    /// Sums a list, at once.
    public static let sum = TaskFunction("sum") { (xs: [Int]) -> Int in xs.reduce(0, +) }

    /// Sleeps the given seconds and returns them.
    public static let sleep = TaskFunction("sleep") { (seconds: Double) async throws -> Double in
        try await Task.sleep(for: .seconds(seconds))
        return seconds
    }

    /// Returns its argument: a task with no work, for measuring scheduler overhead.
    public static let noop = TaskFunction("noop") { (x: Int) -> Int in x }

    /// Returns 0 whatever it is given: a no-op that depends on other tasks.
    public static let noopAll = TaskFunction("noop-all") { (_: [Int]) -> Int in 0 }

    /// `x + y` at once: the step of the benchmarks' tree reduction.
    public static let plus = TaskFunction("plus") { (x: Int, y: Int) -> Int in x + y }

    /// `count` bytes (each its index modulo 251): a payload for the transfer benchmark.
    public static let bytes = TaskFunction("bytes") { (count: Int) -> [UInt8] in
        (0..<max(0, count)).map { UInt8(truncatingIfNeeded: $0 % 251) }
    }

    /// Allocates `bytes` bytes, writes every page, keeps them for `seconds` and returns `bytes`: a
    /// task that needs that much memory, for memory limits, spilling and pausing.
    public static let allocate = TaskFunction("allocate") { (bytes: Int, seconds: Double) async throws -> Int in
        let count = max(0, bytes)
        let pointer = UnsafeMutableRawPointer.allocate(byteCount: max(1, count), alignment: 4096)
        defer { pointer.deallocate() }
        let pages = stride(from: 0, to: count, by: 4096)
        for offset in pages { pointer.storeBytes(of: 1, toByteOffset: offset, as: UInt8.self) }
        if seconds > 0 { try await Task.sleep(for: .seconds(seconds)) }
        // Read every page back, so no write can be optimised away.
        let touched = pages.reduce(0) { $0 + Int(pointer.load(fromByteOffset: $1, as: UInt8.self)) }
        return touched == pages.underestimatedCount ? count : -1
    }

    /// The number of bytes given: the transfer benchmark's consumer.
    public static let countBytes = TaskFunction("count-bytes") { (bytes: [UInt8]) -> Int in bytes.count }

    /// `count` bytes as `Data` (each its index modulo 251), every page written: `drover bench transfer`.
    public static let data = TaskFunction("data") { (count: Int) -> Data in
        var data = Data(count: max(0, count))
        data.withUnsafeMutableBytes { raw in
            for index in raw.indices { raw[index] = UInt8(truncatingIfNeeded: index % 251) }
        }
        return data
    }

    /// The number of bytes of a `Data`: `drover bench transfer`'s consumer.
    public static let countData = TaskFunction("count-data") { (data: Data) -> Int in data.count }

    /// `count` `Double`s (each its index): `drover bench transfer`.
    public static let doubles = TaskFunction("doubles") { (count: Int) -> [Double] in
        [Double](unsafeUninitializedCapacity: max(0, count)) { buffer, initialized in
            for index in buffer.indices { buffer[index] = Double(index) }
            initialized = buffer.count
        }
    }

    /// The number of bytes of a `[Double]`: `drover bench transfer`'s consumer.
    public static let countDoubles = TaskFunction("count-doubles") { (values: [Double]) -> Int in
        values.count * MemoryLayout<Double>.stride
    }

    /// The number of bytes of `Double`s read in place (``PackedArray``): `drover bench transfer`'s
    /// zero-copy consumer of what ``doubles`` makes.
    public static let countPackedDoubles = TaskFunction("count-packed-doubles") {
        (values: PackedArray<Double>) -> Int in
        values.count * MemoryLayout<Double>.stride
    }
}

extension TaskRegistry {
    /// The stock `drover` binary's functions (``Builtins``).
    public static var builtins: TaskRegistry {
        var registry = TaskRegistry()
        registry.register(Builtins.inc)
        registry.register(Builtins.allocate)
        registry.register(Builtins.incHalfSecond)
        registry.register(Builtins.double)
        registry.register(Builtins.add)
        registry.register(Builtins.sum)
        registry.register(Builtins.sleep)
        registry.register(Builtins.noop)
        registry.register(Builtins.noopAll)
        registry.register(Builtins.plus)
        registry.register(Builtins.bytes)
        registry.register(Builtins.countBytes)
        registry.register(Builtins.data)
        registry.register(Builtins.countData)
        registry.register(Builtins.doubles)
        registry.register(Builtins.countDoubles)
        registry.register(Builtins.countPackedDoubles)
        return registry
    }
}
