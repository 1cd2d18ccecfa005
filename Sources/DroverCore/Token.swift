public import Foundation
import Synchronization

/// A deterministic 128-bit hash of a task's function name and arguments, as 32 hex digits.
///
/// Keys must agree across processes and runs, so Swift's per-process-seeded `Hasher` cannot be
/// used. This is not a cryptographic hash: keys name computations, they do not protect them.
public struct Token: Sendable {
    private var lane0: UInt64 = 0x9E37_79B9_7F4A_7C15
    private var lane1: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    private var length: UInt64 = 0

    public init() {}

    /// Mixes raw bytes into the hash.
    public mutating func combine(bytes: UnsafeRawBufferPointer) {
        var offset = 0
        let count = bytes.count
        while offset + 8 <= count {
            mix(bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            offset += 8
        }
        if offset < count {
            var tail: UInt64 = 0
            for index in offset..<count {
                tail |= UInt64(bytes[index]) << (UInt64(index - offset) * 8)
            }
            mix(tail ^ 0xFF00_0000_0000_0000)
        }
        length &+= UInt64(count)
    }

    /// Mixes data into the hash.
    public mutating func combine(_ data: Data) {
        data.withUnsafeBytes { combine(bytes: $0) }
    }

    /// Mixes a string and its length into the hash, so adjacent strings cannot run together.
    public mutating func combine(_ string: String) {
        var copy = string
        copy.withUTF8 { combine(bytes: UnsafeRawBufferPointer($0)) }
        combine(UInt64(string.utf8.count))
    }

    /// Mixes an integer into the hash.
    public mutating func combine(_ value: UInt64) {
        mix(value)
        length &+= 8
    }

    /// Mixes an argument spec into the hash.
    public mutating func combine(_ argument: ArgumentSpec) {
        switch argument {
        case .value(let payload):
            combine(1)
            combine(UInt64(payload.encoding.rawValue))
            combine(payload.typeName)
            combine(UInt64(payload.data.count))
            combine(payload.data)
        case .key(let key):
            combine(2)
            combine(key.rawValue)
        case .list(let items):
            combine(3)
            combine(UInt64(items.count))
            for item in items { combine(item) }
        }
    }

    private mutating func mix(_ word: UInt64) {
        lane0 = (lane0 ^ word) &* 0x0000_0100_0000_01B3
        lane0 = (lane0 << 29) | (lane0 >> 35)
        lane1 = (lane1 &+ word) &* 0x9FB2_1C65_1E98_DF25
        lane1 ^= lane1 >> 31
    }

    private static func finalize(_ value: UInt64) -> UInt64 {
        var x = value
        x ^= x >> 33
        x &*= 0xFF51_AFD7_ED55_8CCD
        x ^= x >> 33
        x &*= 0xC4CE_B9FE_1A85_EC53
        x ^= x >> 33
        return x
    }

    /// The hash as 32 lowercase hex digits.
    public var hexDigest: String {
        let high = Self.finalize(lane0 ^ length)
        let low = Self.finalize(lane1 &+ (lane0 &* 0x9E37_79B9_7F4A_7C15) ^ length)
        return String(unsafeUninitializedCapacity: 32) { buffer in
            let digits: StaticString = "0123456789abcdef"
            for (half, value) in [high, low].enumerated() {
                for position in 0..<16 {
                    let nibble = Int((value >> (60 - 4 * UInt64(position))) & 0xF)
                    buffer[half * 16 + position] = digits.utf8Start[nibble]
                }
            }
            return 32
        }
    }

    /// The token of a call: the function name and its arguments.
    public static func of(function: String, arguments: [ArgumentSpec]) -> String {
        var token = Token()
        token.combine(function)
        token.combine(UInt64(arguments.count))
        for argument in arguments { token.combine(argument) }
        return token.hexDigest
    }

    /// A token no other call of any process makes, for impure calls' keys: the hash of this
    /// process's random seed (drawn once) and a counter. Unique, not secret (keys are shown on
    /// the dashboard); for identities use ``random()``. A key a task makes costs no system call.
    public static func unique() -> String {
        var token = Token()
        token.combine(processSeed.0)
        token.combine(processSeed.1)
        token.combine(uniqueCounter.add(1, ordering: .relaxed).newValue)
        return token.hexDigest
    }

    private static let processSeed: (UInt64, UInt64) = {
        var generator = SystemRandomNumberGenerator()
        return (generator.next(), generator.next())
    }()

    private static let uniqueCounter = Atomic<UInt64>(0)

    /// A fresh random token (two draws from the system's generator), for identities.
    public static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        var token = Token()
        token.combine(generator.next())
        token.combine(generator.next())
        return token.hexDigest
    }
}
