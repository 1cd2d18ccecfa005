import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One worker's memory cgroup, made by ``CgroupController/create(name:limit:)``.
public struct WorkerCgroup: Sendable, Hashable {
    /// The hierarchy's version, which decides the file names.
    public let version: CgroupVersion
    /// The cgroup's directory.
    public let path: String

    /// Refers to an existing cgroup directory (for example one a previous nanny left behind).
    public init(version: CgroupVersion, path: String) {
        self.version = version
        self.path = path
    }

    /// The file a process writes its pid into to join this cgroup, before it allocates (`cgroup.procs`).
    public var procsFile: String { path + "/cgroup.procs" }

    /// How many processes the kernel's OOM killer has killed in this cgroup: the `oom_kill` line of
    /// `memory.oom_control` (v1) or `memory.events` (v2), 0 on kernels without it (before 4.13).
    ///
    /// - Throws: ``CgroupError`` if the file cannot be read.
    public func oomKillCount() throws(CgroupError) -> Int {
        let file = path + (version == .v1 ? "/memory.oom_control" : "/memory.events")
        return Self.parseOOMKillCount(try ControlFile.read(file)) ?? 0
    }

    /// The most memory the cgroup has used: `memory.max_usage_in_bytes` (v1) or `memory.peak` (v2, Linux 5.19+).
    ///
    /// - Returns: The peak in bytes, or nil where the kernel does not keep one.
    /// - Throws: ``CgroupError`` if the file exists but cannot be read or holds no number.
    public func peakBytes() throws(CgroupError) -> Int64? {
        let file = path + (version == .v1 ? "/memory.max_usage_in_bytes" : "/memory.peak")
        guard let text = try ControlFile.readIfPresent(file) else { return nil }
        return try Self.number(text, in: file)
    }

    /// The memory the cgroup uses now: `memory.usage_in_bytes` (v1) or `memory.current` (v2).
    ///
    /// - Throws: ``CgroupError`` if the file cannot be read or holds no number.
    public func currentBytes() throws(CgroupError) -> Int64 {
        let file = path + (version == .v1 ? "/memory.usage_in_bytes" : "/memory.current")
        return try Self.number(try ControlFile.read(file), in: file)
    }

    /// The pids in the cgroup (`cgroup.procs`); none if the cgroup is gone.
    public func processIDs() -> [Int32] {
        ((try? ControlFile.readIfPresent(procsFile)) ?? nil)?.split(whereSeparator: \.isNewline).compactMap {
            Int32($0)
        } ?? []
    }

    /// Removes the cgroup: kills any process still in it with SIGKILL, then `rmdir`s it, retrying while the kernel
    /// answers EBUSY (it frees a cgroup shortly after its last process exits). Removing a cgroup that is gone succeeds.
    ///
    /// This blocks for up to `timeout` when the kernel is slow to free the cgroup; call it where blocking is harmless
    /// (the nanny's process-reaping thread), not on the cooperative pool.
    ///
    /// - Parameter timeout: How long to keep retrying EBUSY.
    /// - Throws: ``CgroupError`` naming the directory when it is still busy after `timeout`, or cannot be removed.
    public func remove(timeout: Duration = .seconds(1)) throws(CgroupError) {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while true {
            killProcesses()
            if rmdir(path) == 0 { return }
            let number = errno
            switch number {
            case ENOENT:
                return
            case EBUSY where clock.now < deadline:
                usleep(10_000)
            case ENOTEMPTY:
                // A cgroup file system answers EBUSY, never ENOTEMPTY: this is a plain directory (a test tree) whose
                // files stand in for the kernel's control files.
                try removePlainDirectory()
                return
            default:
                let left = processIDs().map(String.init).joined(separator: ", ")
                throw ControlFile.failure(
                    "Cannot remove the cgroup \(path)" + (left.isEmpty ? "" : " (processes left: \(left))"), number)
            }
        }
    }

    /// Sends SIGKILL to every process in the cgroup.
    func killProcesses() {
        for pid in processIDs() where pid > 0 {
            kill(pid, SIGKILL)
        }
    }

    private func removePlainDirectory() throws(CgroupError) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        for name in names where unlink(path + "/" + name) != 0 {
            throw ControlFile.failure("Cannot remove \(path)/\(name)", errno)
        }
        if rmdir(path) != 0 {
            throw ControlFile.failure("Cannot remove the directory \(path)", errno)
        }
    }

    // MARK: - Parsing

    /// The `oom_kill N` line of v1 `memory.oom_control` or v2 `memory.events`.
    ///
    /// - Parameter text: The file's contents.
    /// - Returns: N, or nil without such a line.
    public static func parseOOMKillCount(_ text: String) -> Int? {
        for line in text.split(whereSeparator: \.isNewline) {
            let fields = line.split(separator: " ")
            if fields.count == 2, fields[0] == "oom_kill" {
                return Int(fields[1])
            }
        }
        return nil
    }

    private static func number(_ text: String, in file: String) throws(CgroupError) -> Int64 {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let value = Int64(trimmed) else {
            throw CgroupError(code: .fileSystem, message: "\(file) holds '\(trimmed)', not a number of bytes.")
        }
        return value
    }
}
