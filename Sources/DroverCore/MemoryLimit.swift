/// A worker's memory limit as the user wrote it, before it is turned into bytes for one host.
///
/// Follows Dask's `--memory-limit`: a size (`4GiB`, `500MB`, `1e9`), a number in (0, 1] as a fraction of the
/// host's memory (`0.25`), `auto` (the host's memory shared evenly by the host's workers), or `0`/`none` for no limit.
public enum MemoryLimit: Sendable, Hashable, CustomStringConvertible {
    /// An absolute size in bytes, greater than 0.
    case bytes(Int64)
    /// A fraction in (0, 1] of the host's memory limit.
    case fraction(Double)
    /// The host's memory limit divided by the number of workers on the host.
    case auto
    /// No limit.
    case unlimited

    /// Reads a limit as written on the command line or in the environment.
    ///
    /// A plain number in (0, 1] is a fraction of the host (so `1` means all of it, while `1B` is one byte);
    /// any other number or size is in bytes, and a size of 0 means no limit, as in Dask.
    ///
    /// - Parameter text: `4GiB`, `500MB`, `1e9`, `0.25`, `auto`, `0` or `none`.
    /// - Returns: The limit, still to be resolved with ``resolve(hostLimit:workers:)``.
    /// - Throws: ``MemorySizeError`` naming the text when it is none of these.
    public static func parse(_ text: String) throws(MemorySizeError) -> MemoryLimit {
        let trimmed = text.trimmingWhitespace
        switch trimmed.lowercased() {
        case "auto": return .auto
        case "none", "unlimited": return .unlimited
        default: break
        }
        if let number = Double(trimmed), number > 0, number <= 1 {
            return .fraction(number)
        }
        let examples = "4GiB, 500MB, 1e9, 0.25 for a quarter of the host, auto, none"
        if trimmed.hasPrefix("-") {
            throw MemorySizeError("'\(text)' is negative; a memory limit is at least 0 (examples: \(examples)).")
        }
        let bytes: Int64
        do {
            bytes = try MemorySize.parse(trimmed)
        } catch {
            throw MemorySizeError("'\(text)' is not a memory limit (examples: \(examples)).")
        }
        return bytes == 0 ? .unlimited : .bytes(bytes)
    }

    /// The limit in bytes on a host whose memory (RAM, or its own cgroup's limit if lower) is `hostLimit`.
    ///
    /// - Parameters:
    ///   - hostLimit: The memory available to the whole host in bytes, greater than 0.
    ///   - workers: How many workers share the host, at least 1; only ``auto`` uses it.
    /// - Returns: The limit in bytes, or nil for no limit.
    /// - Throws: ``MemorySizeError`` when an absolute limit exceeds `hostLimit` or a fraction comes to 0 bytes.
    public func resolve(hostLimit: Int64, workers: Int) throws(MemorySizeError) -> Int64? {
        precondition(hostLimit > 0, "hostLimit must be positive, not \(hostLimit)")
        precondition(workers > 0, "workers must be at least 1, not \(workers)")
        switch self {
        case .unlimited:
            return nil
        case .auto:
            return max(hostLimit / Int64(workers), 1)
        case .fraction(let fraction):
            let bytes = Int64(fraction * Double(hostLimit))
            guard bytes > 0 else {
                throw MemorySizeError(
                    "--memory-limit \(fraction) of this host's \(MemorySize.format(hostLimit)) is less than a byte.")
            }
            return bytes
        case .bytes(let bytes):
            guard bytes <= hostLimit else {
                throw MemorySizeError(
                    "--memory-limit \(MemorySize.format(bytes)) exceeds this host's limit of "
                        + "\(MemorySize.format(hostLimit)); use a smaller size, a fraction such as 0.5, or auto.")
            }
            return bytes
        }
    }

    /// "4 GiB", "25% of the host", "auto", "unlimited".
    public var description: String {
        switch self {
        case .bytes(let bytes): MemorySize.format(bytes)
        case .fraction(let fraction): "\(Self.percent(fraction)) of the host"
        case .auto: "auto"
        case .unlimited: "unlimited"
        }
    }

    private static func percent(_ fraction: Double) -> String {
        let tenths = (fraction * 1000).rounded()
        let whole = Int(tenths / 10)
        let decimal = Int(tenths) % 10
        return decimal == 0 ? "\(whole)%" : "\(whole).\(decimal)%"
    }
}
