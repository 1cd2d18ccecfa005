/// The cgroup version of a hierarchy.
public enum CgroupVersion: Sendable, Hashable {
    /// A v1 hierarchy (here, the one with the `memory` controller).
    case v1
    /// The v2 unified hierarchy.
    case v2
}

/// A process's own cgroup directory in one hierarchy, and where that hierarchy is mounted.
public struct CgroupDirectory: Sendable, Hashable {
    /// The hierarchy's version.
    public var version: CgroupVersion
    /// The cgroup's directory, e.g. `/sys/fs/cgroup/memory/process_api/5e8e`.
    public var path: String
    /// The hierarchy's mount point, e.g. `/sys/fs/cgroup/memory`; ``path`` is at or below it.
    public var mountPoint: String

    /// Creates a directory.
    public init(version: CgroupVersion, path: String, mountPoint: String) {
        self.version = version
        self.path = path
        self.mountPoint = mountPoint
    }

    /// ``path`` and each parent directory up to and including ``mountPoint``, nearest first.
    public var ancestors: [String] {
        var result = [path]
        var current = path
        while current != mountPoint, current.hasPrefix(mountPoint), let slash = current.lastIndex(of: "/") {
            current = slash == current.startIndex ? "/" : String(current[..<slash])
            result.append(current)
        }
        return result
    }

    /// Finds a process's cgroup v1 memory directory and its cgroup v2 directory.
    ///
    /// - Parameters:
    ///   - cgroup: The text of `/proc/<pid>/cgroup`.
    ///   - mountinfo: The text of `/proc/<pid>/mountinfo`.
    /// - Returns: The directories found, each nil when the hierarchy is absent, unmounted, or mounted without the
    ///   process's cgroup in view. On a hybrid host both are present, but the v2 one has no memory controller.
    public static func locate(cgroup: String, mountinfo: String) -> (v1Memory: CgroupDirectory?, v2: CgroupDirectory?) {
        let memberships = CgroupMembership.parse(cgroup)
        let mounts = CgroupMount.parse(mountinfo)
        var v1Memory: CgroupDirectory?
        if let membership = memberships.first(where: { $0.controllers.contains("memory") }) {
            v1Memory = find(membership.path, in: mounts.filter { $0.hasController("memory") }, version: .v1)
        }
        var v2: CgroupDirectory?
        if let membership = memberships.first(where: \.isUnified) {
            v2 = find(membership.path, in: mounts.filter(\.isUnified), version: .v2)
        }
        return (v1Memory, v2)
    }

    private static func find(_ path: String, in mounts: [CgroupMount], version: CgroupVersion) -> CgroupDirectory? {
        for mount in mounts {
            if let directory = mount.directory(of: path) {
                return CgroupDirectory(version: version, path: directory, mountPoint: mount.mountPoint)
            }
        }
        return nil
    }
}
