/// The memory this host gives the nanny's process tree: the least of its RAM and the memory limits of its cgroups.
///
/// Inside a container or a systemd unit with `MemoryMax=`, the cgroup limit is what the kernel enforces, so worker
/// limits (`auto`, fractions) are shares of it rather than of the machine's RAM.
public struct HostMemory: Sendable, Hashable {
    /// The limit in bytes.
    public var bytes: Int64
    /// Where the limit comes from: `/proc/meminfo` or a cgroup file such as `/sys/fs/cgroup/x/memory.max`.
    public var source: String

    /// Creates a limit.
    public init(bytes: Int64, source: String) {
        self.bytes = bytes
        self.source = source
    }

    /// Reads the host's memory limit: the least of `MemTotal` in `/proc/meminfo`, the cgroup v2 `memory.max` of this
    /// process's cgroup and of each ancestor up to the mount point, and the cgroup v1 `memory.limit_in_bytes` of the
    /// same directories in the memory hierarchy. Missing cgroup files, `max` and v1 values of 2^62 or more mean no limit.
    ///
    /// - Parameter root: The file-system root to read under: "/" for the real one, a temporary tree in tests.
    /// - Returns: The limit and the file it comes from.
    /// - Throws: ``CgroupError`` if `/proc/meminfo` cannot be read or has no `MemTotal` line.
    public static func limit(root: String = "/") throws(CgroupError) -> HostMemory {
        let meminfoPath = rooted("/proc/meminfo", in: root)
        guard let total = parseMemTotal(try ControlFile.read(meminfoPath)) else {
            throw CgroupError(code: .fileSystem, message: "\(meminfoPath) has no 'MemTotal: <n> kB' line.")
        }
        var limit = HostMemory(bytes: total, source: meminfoPath)
        let cgroup = try? ControlFile.read(rooted("/proc/self/cgroup", in: root))
        let mountinfo = try? ControlFile.read(rooted("/proc/self/mountinfo", in: root))
        guard let cgroup, let mountinfo else { return limit }
        let directories = CgroupDirectory.locate(cgroup: cgroup, mountinfo: mountinfo)
        let candidates =
            (directories.v2?.ancestors ?? []).map { ($0, "memory.max") }
            + (directories.v1Memory?.ancestors ?? []).map { ($0, "memory.limit_in_bytes") }
        for (directory, file) in candidates {
            let path = rooted(directory + "/" + file, in: root)
            guard let text = try? ControlFile.readIfPresent(path), let bytes = parseCgroupLimit(text) else { continue }
            if bytes < limit.bytes {
                limit = HostMemory(bytes: bytes, source: path)
            }
        }
        return limit
    }

    /// `MemTotal` from the text of `/proc/meminfo` (`MemTotal:       24683656 kB`), in bytes.
    ///
    /// - Parameter meminfo: The file's contents.
    /// - Returns: The total in bytes, or nil without a readable `MemTotal` line.
    public static func parseMemTotal(_ meminfo: String) -> Int64? {
        for line in meminfo.split(separator: "\n") where line.hasPrefix("MemTotal:") {
            let fields = line.dropFirst("MemTotal:".count).split(separator: " ")
            guard let number = fields.first.flatMap({ Int64($0) }) else { return nil }
            let unit = fields.dropFirst().first
            return unit == nil ? number : (unit == "kB" ? number * 1024 : nil)
        }
        return nil
    }

    /// A cgroup memory limit from a v2 `memory.max` or v1 `memory.limit_in_bytes` file.
    ///
    /// - Parameter text: The file's contents: a number of bytes, or `max`.
    /// - Returns: The limit in bytes, or nil for none: `max`, a v1 "unlimited" value (2^62 or more; the kernel shows
    ///   `PAGE_COUNTER_MAX` pages in bytes, 9223372036854771712 on x86-64) or unreadable text.
    public static func parseCgroupLimit(_ text: String) -> Int64? {
        let trimmed = text.split(whereSeparator: \.isWhitespace).first.map(String.init) ?? ""
        guard let value = UInt64(trimmed), value < 1 << 62 else { return nil }
        return Int64(value)
    }
}
