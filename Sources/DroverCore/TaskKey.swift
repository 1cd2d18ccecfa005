/// The name of one task and of the result it produces, unique within a graph.
///
/// Keys made by ``TaskFunction/delayed(_:key:pure:)`` read `"<function>-<token>"`, where the token
/// hashes the function name and the encoded arguments, so the same call always gets the same key
/// (Dask's "pure" default). Any string is a valid key when given explicitly.
public struct TaskKey: Hashable, Sendable, Comparable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The key's text.
    public let rawValue: String
    /// A hash of the text computed once: schedulers hash keys far more often than they make them.
    private let textHash: UInt64

    /// Creates a key from its text.
    public init(_ rawValue: String) {
        self.rawValue = rawValue
        // Over the contiguous UTF-8 where the string has it (native strings do): the scheduler
        // makes a key from its arena's bytes each time a message names a task.
        self.textHash = rawValue.utf8.withContiguousStorageIfAvailable(Self.fnv1a) ?? Self.fnv1a(rawValue.utf8)
    }

    /// FNV-1a, 64 bits.
    private static func fnv1a(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return hash
    }

    public init(stringLiteral value: String) {
        self.init(value)
    }

    /// Creates the key `"<function>-<token>"`.
    public init(function: String, token: String) {
        self.init("\(function)-\(token)")
    }

    public static func == (lhs: TaskKey, rhs: TaskKey) -> Bool {
        lhs.textHash == rhs.textHash && lhs.rawValue == rhs.rawValue
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(textHash)
    }

    /// What `Set` and `Dictionary` hash with (and `hashValue`, which is this with seed 0): the
    /// text's hash, mixed with the table's seed, without a `Hasher` (initializing and finalizing
    /// one per look-up was ~5 % of a cluster's CPU, spread over every process). No weaker than
    /// `hash(into:)` against chosen keys: both are a function of `textHash` alone, so keys whose
    /// text hashes collide collide either way (and are told apart by their text).
    public func _rawHashValue(seed: Int) -> Int {
        Self.mix(textHash, seed: seed)
    }

    /// The `hashValue` of the key whose text's UTF-8 is `utf8`, without making the key (a table
    /// that keeps keys as bytes looks them up by it).
    public static func hashValue(ofUTF8 utf8: UnsafeBufferPointer<UInt8>) -> Int {
        mix(fnv1a(utf8), seed: 0)
    }

    /// The 64-bit finalizer of MurmurHash3 over the text's hash and a seed: every bit of the
    /// input moves every bit of the output.
    private static func mix(_ textHash: UInt64, seed: Int) -> Int {
        var mixed = textHash ^ UInt64(UInt(bitPattern: seed))
        mixed ^= mixed >> 33
        mixed &*= 0xFF51_AFD7_ED55_8CCD
        mixed ^= mixed >> 33
        mixed &*= 0xC4CE_B9FE_1A85_EC53
        mixed ^= mixed >> 33
        return Int(truncatingIfNeeded: mixed)
    }

    public var description: String { rawValue }

    public static func < (lhs: TaskKey, rhs: TaskKey) -> Bool { lhs.rawValue < rhs.rawValue }
}
