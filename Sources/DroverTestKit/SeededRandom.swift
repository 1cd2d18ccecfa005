/// A seeded random number generator (SplitMix64), so property tests replay exactly.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        self.state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A random string of `count` characters drawn from ASCII, accented Latin, CJK and emoji.
    public mutating func string(count: Int) -> String {
        let pools: [ClosedRange<UInt32>] = [0x20...0x7E, 0xC0...0x17F, 0x4E00...0x4FFF, 0x1F600...0x1F64F]
        var scalars = String.UnicodeScalarView()
        for _ in 0..<count {
            let pool = pools[Int.random(in: 0..<pools.count, using: &self)]
            scalars.append(Unicode.Scalar(UInt32.random(in: pool, using: &self))!)
        }
        return String(scalars)
    }
}
