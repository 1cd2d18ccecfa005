import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Makes one memory-limited cgroup per worker under the nanny's own cgroup.
///
/// With cgroup v1 (a writable directory in the `memory` hierarchy) each worker cgroup gets `memory.limit_in_bytes`
/// and, where swap is accounted, the same `memory.memsw.limit_in_bytes`. With cgroup v2 (a writable, delegated
/// directory that offers the `memory` controller, as systemd gives a unit with `Delegate=yes`) the nanny first moves
/// itself into the leaf `<own>/nanny`, because v2 lets only cgroups without processes enable controllers for their
/// children, then enables `+memory` in `<own>/cgroup.subtree_control`; each worker cgroup gets `memory.max` and
/// `memory.high` equal to the limit, and `memory.swap.max` 0 where that file exists. The worker keeps itself under the
/// limit by spilling and pausing; the kernel only enforces it, killing the worker when it fails to.
public final class CgroupController: Sendable {
    /// The name of the v2 leaf cgroup the nanny moves itself into; no worker may use it.
    public static let nannyLeafName = "nanny"

    /// The hierarchy the worker cgroups live in.
    public let version: CgroupVersion
    /// The nanny's own cgroup directory; worker cgroups are made inside it.
    public let directory: String
    private let processID: Int32
    // v2 only: whether the nanny has left `directory` for its leaf and enabled the memory controller.
    private let isDelegated = Mutex(false)

    /// Uses `directory` as the parent of worker cgroups; ``find(root:processID:)`` finds it for this process.
    ///
    /// - Parameters:
    ///   - version: The hierarchy's version.
    ///   - directory: A writable cgroup directory (with the memory controller available, for v2).
    ///   - processID: The nanny's pid, moved to the `nanny` leaf under cgroup v2 (default: this process).
    public init(version: CgroupVersion, directory: String, processID: Int32? = nil) {
        self.version = version
        self.directory = directory
        self.processID = processID ?? getpid()
    }

    /// Finds where this process may make memory-limited worker cgroups: its cgroup v1 memory directory if writable,
    /// else its cgroup v2 directory if that offers the memory controller and is writable.
    ///
    /// - Parameters:
    ///   - root: The file-system root: "/" for the real one, a temporary tree in tests.
    ///   - processID: The nanny's pid (default: this process).
    /// - Returns: The controller.
    /// - Throws: ``CgroupError`` with code ``CgroupError/Code/unavailable`` whose message gives the reason for each
    ///   hierarchy, for the nanny to log before it falls back to polling RSS.
    public static func find(root: String = "/", processID: Int32? = nil) throws(CgroupError) -> CgroupController {
        let cgroup: String
        let mountinfo: String
        do {
            cgroup = try ControlFile.read(rooted("/proc/self/cgroup", in: root))
            mountinfo = try ControlFile.read(rooted("/proc/self/mountinfo", in: root))
        } catch {
            throw CgroupError(
                code: .unavailable, message: "No cgroups for worker memory limits: \(error.message)", cause: error)
        }
        let directories = CgroupDirectory.locate(cgroup: cgroup, mountinfo: mountinfo)
        var reasons: [String] = []
        if let v1 = directories.v1Memory {
            let path = rooted(v1.path, in: root)
            guard let number = ControlFile.writeAccessError(path) else {
                return CgroupController(version: .v1, directory: path, processID: processID)
            }
            reasons.append(
                "the cgroup v1 memory directory \(path) is not writable (\(ControlFile.describe(errno: number)))")
        } else {
            reasons.append("this process is in no mounted cgroup v1 memory hierarchy")
        }
        if let v2 = directories.v2 {
            let path = rooted(v2.path, in: root)
            let controllers = (try? ControlFile.read(path + "/cgroup.controllers")) ?? ""
            if !controllers.split(whereSeparator: \.isWhitespace).contains("memory") {
                let listed = controllers.trimmingCharacters(in: .whitespacesAndNewlines)
                reasons.append(
                    "the cgroup v2 directory \(path) does not offer the memory controller "
                        + "(cgroup.controllers: '\(listed)'; systemd units need Delegate=yes)")
            } else if let number = ControlFile.writeAccessError(path) {
                reasons.append(
                    "the cgroup v2 directory \(path) is not writable (\(ControlFile.describe(errno: number)))")
            } else {
                return CgroupController(version: .v2, directory: path, processID: processID)
            }
        } else {
            reasons.append("this process is in no mounted cgroup v2 hierarchy")
        }
        throw CgroupError(
            code: .unavailable, message: "No cgroup for worker memory limits: " + reasons.joined(separator: "; ") + ".")
    }

    /// Makes the cgroup `<directory>/<name>` limited to `limit` bytes. A leftover cgroup of that name, from a nanny
    /// that died, is reused after its processes are killed.
    ///
    /// - Parameters:
    ///   - name: The cgroup's directory name, e.g. `worker-0`; not `nanny`, and without `/`.
    ///   - limit: The memory limit in bytes, greater than 0.
    /// - Returns: The cgroup, for the worker to write its pid into ``WorkerCgroup/procsFile``.
    /// - Throws: ``CgroupError`` naming the file that could not be made or written, and why.
    public func create(name: String, limit: Int64) throws(CgroupError) -> WorkerCgroup {
        guard !name.isEmpty, !name.contains("/"), name != ".", name != "..", name != Self.nannyLeafName else {
            throw CgroupError(
                code: .invalidArgument,
                message: "'\(name)' cannot name a worker cgroup: use a directory name other than '.', '..' and "
                    + "'\(Self.nannyLeafName)'.")
        }
        guard limit > 0 else {
            throw CgroupError(code: .invalidArgument, message: "The worker cgroup '\(name)' needs a limit above 0.")
        }
        if version == .v2 {
            try delegate()
        }
        let cgroup = WorkerCgroup(version: version, path: directory + "/" + name)
        let isNew = try makeDirectory(cgroup.path)
        if !isNew {
            cgroup.killProcesses()
        }
        do {
            try writeLimit(limit, to: cgroup)
        } catch {
            if isNew { try? cgroup.remove() }
            throw error
        }
        return cgroup
    }

    // MARK: - Writing

    private func writeLimit(_ limit: Int64, to cgroup: WorkerCgroup) throws(CgroupError) {
        let value = String(limit)
        switch version {
        case .v1:
            // memsw (memory + swap) may never be below the memory limit, so which write must come first depends on
            // the old values; trying memsw on both sides of the memory limit works for raising and lowering both.
            let swap = cgroup.path + "/memory.memsw.limit_in_bytes"
            let hasSwapAccounting = ControlFile.exists(swap)
            if hasSwapAccounting { try? ControlFile.write(value, to: swap) }
            try ControlFile.write(value, to: cgroup.path + "/memory.limit_in_bytes")
            if hasSwapAccounting { try? ControlFile.write(value, to: swap) }
        case .v2:
            try ControlFile.write(value, to: cgroup.path + "/memory.max")
            // Equal to max, so the kernel never throttles below the limit: the worker paces itself.
            try ControlFile.write(value, to: cgroup.path + "/memory.high")
            let swap = cgroup.path + "/memory.swap.max"
            if ControlFile.exists(swap) {
                try ControlFile.write("0", to: swap)
            }
        }
    }

    /// Under cgroup v2, moves the nanny (and any other process of its cgroup) into the leaf `nanny` and enables the
    /// memory controller for its children, once.
    private func delegate() throws(CgroupError) {
        try isDelegated.withLock { (isDelegated: inout Bool) throws(CgroupError) in
            guard !isDelegated else { return }
            let leaf = directory + "/" + Self.nannyLeafName
            _ = try makeDirectory(leaf)
            let procs = directory + "/cgroup.procs"
            let others = ((try? ControlFile.read(procs)) ?? "").split(separator: "\n").compactMap { Int32($0) }
            try ControlFile.write(String(processID), to: leaf + "/cgroup.procs")
            for pid in others where pid != processID {
                // A process that exited meanwhile fails with ESRCH; one that stays makes the next step fail.
                try? ControlFile.write(String(pid), to: leaf + "/cgroup.procs")
            }
            let subtree = directory + "/cgroup.subtree_control"
            let enabled = (try? ControlFile.read(subtree)) ?? ""
            if !enabled.split(whereSeparator: \.isWhitespace).contains("memory") {
                do throws(CgroupError) {
                    try ControlFile.write("+memory", to: subtree)
                } catch {
                    let remaining = ((try? ControlFile.read(procs)) ?? "").split(separator: "\n").joined(
                        separator: ", ")
                    throw CgroupError(
                        code: error.code,
                        message: error.message
                            + (remaining.isEmpty
                                ? "" : " Processes still in \(procs) (v2 allows no process there): \(remaining)."),
                        cause: error.cause)
                }
            }
            isDelegated = true
        }
    }

    /// Makes a directory; returns false if it already existed.
    private func makeDirectory(_ path: String) throws(CgroupError) -> Bool {
        if mkdir(path, 0o755) == 0 { return true }
        let number = errno
        if number == EEXIST { return false }
        throw ControlFile.failure("Cannot make the cgroup \(path)", number)
    }
}
