/// Memory sizes as Dask writes them (`4GiB`, `500MB`, `1e9`, `100 B`) and as people read them (`1.5 GiB`).
public enum MemorySize {
    /// Reads a size in bytes.
    ///
    /// A number with an optional unit, case-insensitive: decimal `B`, `kB`, `MB`, `GB`, `TB`, `PB` (also `k`, `M`,
    /// `G`, `T`, `P`) and binary `KiB`, `MiB`, `GiB`, `TiB`, `PiB` (also `Ki`, `Mi`, ...), as Dask's `parse_bytes`.
    /// Fractions round down to whole bytes.
    ///
    /// - Parameter text: The size, e.g. `4GiB`, `500 MB`, `1e9`, `1000000`.
    /// - Returns: The size in bytes.
    /// - Throws: ``MemorySizeError`` when the text is not a size, is negative or does not fit in 63 bits.
    public static func parse(_ text: String) throws(MemorySizeError) -> Int64 {
        let trimmed = text.trimmingWhitespace
        let unit = String(trimmed.reversed().prefix(while: \.isLetter).reversed())
        let number = String(trimmed.dropLast(unit.count)).trimmingWhitespace
        guard let factor = factors[unit.lowercased()], let value = Double(number), value.isFinite else {
            throw MemorySizeError("'\(text)' is not a memory size (examples: 4GiB, 500MB, 1e9, 1000000).")
        }
        guard value >= 0 else {
            throw MemorySizeError("'\(text)' is negative; a memory size is at least 0 (examples: 4GiB, 500MB).")
        }
        let bytes = value * factor
        // Double(Int64.max) rounds up to 2^63, which does not fit.
        guard bytes < Double(Int64.max) else {
            throw MemorySizeError("'\(text)' is too large for a memory size (at most 8 EiB).")
        }
        return Int64(bytes)
    }

    /// Writes a size in binary units with at most one decimal: "100 B", "512 KiB", "300 MiB", "1 GiB", "1.5 GiB".
    ///
    /// - Parameter bytes: The size; a negative size is written with a leading "-".
    /// - Returns: The size for people to read.
    public static func format(_ bytes: Int64) -> String {
        let sign = bytes < 0 ? "-" : ""
        let magnitude = Double(bytes.magnitude)
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var index = 0
        while index + 1 < units.count, magnitude >= pow1024(index + 1) {
            index += 1
        }
        var tenths = (magnitude / pow1024(index) * 10).rounded()
        // 1023.96 KiB rounds to 1024.0 KiB: say 1 MiB instead.
        if tenths >= 10240, index + 1 < units.count {
            index += 1
            tenths = (magnitude / pow1024(index) * 10).rounded()
        }
        let whole = Int64(tenths / 10)
        let decimal = Int64(tenths) % 10
        let number = index == 0 || decimal == 0 ? "\(whole)" : "\(whole).\(decimal)"
        return "\(sign)\(number) \(units[index])"
    }

    private static let factors: [String: Double] = [
        "": 1, "b": 1,
        "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12, "p": 1e15, "pb": 1e15,
        "ki": 0x1p10, "kib": 0x1p10, "mi": 0x1p20, "mib": 0x1p20, "gi": 0x1p30, "gib": 0x1p30,
        "ti": 0x1p40, "tib": 0x1p40, "pi": 0x1p50, "pib": 0x1p50,
    ]

    private static func pow1024(_ exponent: Int) -> Double {
        Double(sign: .plus, exponent: 10 * exponent, significand: 1)
    }
}

extension String {
    /// The text without leading and trailing spaces, tabs and newlines (no Foundation in the core).
    var trimmingWhitespace: String {
        let characters = drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed()
        return String(characters)
    }
}
