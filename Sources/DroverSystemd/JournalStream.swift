import Glibc

/// Whether a descriptor is systemd's stream to the journal, so logs can go to the journal
/// natively with fields instead of as lines of text.
///
/// systemd sets `$JOURNAL_STREAM` to `<device>:<inode>` of the stream it connected stdout or
/// stderr to; it counts only while the descriptor is still that stream (a child whose stderr was
/// redirected inherits the variable but not the stream). See `systemd.exec(5)`.
public enum JournalStream {
    /// The environment variable systemd sets.
    public static let variable = "JOURNAL_STREAM"

    /// Whether standard error is the journal stream named by `$JOURNAL_STREAM`.
    public static var isStandardError: Bool {
        matches(getenv(variable).map { String(cString: $0) }, fileDescriptor: STDERR_FILENO)
    }

    /// Whether `value` (a `$JOURNAL_STREAM` value) names the file `fileDescriptor` refers to.
    ///
    /// - Parameters:
    ///   - value: `<device>:<inode>` in decimal, or nil.
    ///   - fileDescriptor: An open descriptor.
    /// - Returns: True when both numbers equal `fstat(2)`'s `st_dev` and `st_ino`; false for nil,
    ///   malformed values and closed descriptors.
    public static func matches(_ value: String?, fileDescriptor: Int32) -> Bool {
        guard let value, let (device, inode) = parse(value), let identity = identity(of: fileDescriptor) else {
            return false
        }
        return identity.device == device && identity.inode == inode
    }

    /// The `(st_dev, st_ino)` of an open descriptor, or nil when `fstat` fails.
    public static func identity(of fileDescriptor: Int32) -> (device: UInt64, inode: UInt64)? {
        var info = stat()
        guard fstat(fileDescriptor, &info) == 0 else { return nil }
        return (UInt64(info.st_dev), UInt64(info.st_ino))
    }

    private static func parse(_ value: String) -> (UInt64, UInt64)? {
        let parts = value.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return nil }
        return (device, inode)
    }
}
