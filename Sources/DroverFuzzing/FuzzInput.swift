/// The choices of one fuzz input, read from its bytes: libFuzzer's bytes, or bytes drawn from a
/// seeded generator (``FuzzInput/seeded(_:count:)``), so both drive the same code.
///
/// Reading past the end yields zeros (libFuzzer's `FuzzedDataProvider` does the same), so every
/// prefix of an input is itself a valid input and a generator stops at ``isExhausted``.
public struct FuzzInput: Sendable {
    /// The bytes the choices are read from.
    public let bytes: [UInt8]
    private var offset = 0

    /// Reads choices from `bytes`.
    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// `count` bytes drawn from `random`: a seeded input.
    ///
    /// - Parameters:
    ///   - random: the generator; a seeded one makes the input replayable.
    ///   - count: how many bytes to draw.
    /// - Returns: the bytes, to pass to ``init(_:)`` or to a target directly.
    public static func seeded(_ random: inout some RandomNumberGenerator, count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
    }

    /// Whether every byte has been read.
    public var isExhausted: Bool { offset >= bytes.count }

    /// The next byte, or 0 past the end.
    public mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// A number in `range` (which must hold at most 65,536 values to be uniform enough).
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        let span = UInt64(range.upperBound - range.lowerBound) + 1
        let raw = span <= 256 ? UInt64(byte()) : UInt64(byte()) << 8 | UInt64(byte())
        return range.lowerBound + Int(raw % span)
    }

    /// A coin toss that comes up `true` about `percent` times in 100.
    public mutating func chance(_ percent: Int) -> Bool {
        int(in: 0...99) < percent
    }

    /// One of `choices`, which must not be empty.
    public mutating func pick<T>(_ choices: [T]) -> T {
        choices[int(in: 0...(choices.count - 1))]
    }

    /// A 64-bit number read from 8 bytes.
    public mutating func int64() -> Int64 {
        var value: UInt64 = 0
        for _ in 0..<8 { value = value << 8 | UInt64(byte()) }
        return Int64(bitPattern: value)
    }

    /// A double: usually small and positive, sometimes zero, negative, huge, infinite or NaN
    /// (what a peer may put on the wire).
    public mutating func double() -> Double {
        switch int(in: 0...15) {
        case 0: 0
        case 1: -Double(int(in: 0...1000)) / 10
        case 2: .nan
        case 3: .infinity
        case 4: 1e300
        default: Double(int(in: 0...10_000)) / 1000
        }
    }
}
