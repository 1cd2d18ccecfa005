/// A cgroup file system mounted in this process's mount namespace: one line of `/proc/<pid>/mountinfo`
/// whose type is `cgroup` (v1) or `cgroup2`.
///
/// A line reads `id parent major:minor ROOT MOUNTPOINT options [optional fields...] - FSTYPE source superoptions`;
/// for v1 the super options name the hierarchy's controllers (`rw,memory`).
public struct CgroupMount: Sendable, Hashable {
    /// The cgroup shown at the mount point, as a path from the hierarchy's root (`/` unless a container bind-mounted
    /// only its own part of the tree).
    public var root: String
    /// Where the hierarchy is mounted, e.g. `/sys/fs/cgroup/memory`.
    public var mountPoint: String
    /// `cgroup` or `cgroup2`.
    public var fileSystemType: String
    /// The super options, e.g. `["rw", "memory"]`.
    public var superOptions: [String]

    /// Creates a mount.
    public init(root: String, mountPoint: String, fileSystemType: String, superOptions: [String]) {
        self.root = root
        self.mountPoint = mountPoint
        self.fileSystemType = fileSystemType
        self.superOptions = superOptions
    }

    /// Whether this is a cgroup v2 hierarchy.
    public var isUnified: Bool { fileSystemType == "cgroup2" }

    /// Whether this v1 hierarchy carries `controller`.
    public func hasController(_ controller: String) -> Bool {
        !isUnified && superOptions.contains(controller)
    }

    /// Reads the text of `/proc/<pid>/mountinfo` and keeps the cgroup mounts.
    ///
    /// - Parameter text: The file's contents.
    /// - Returns: The `cgroup` and `cgroup2` mounts, in file order, with `\040`-style escapes decoded.
    public static func parse(_ text: String) -> [CgroupMount] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard let separator = fields.firstIndex(of: "-"), separator >= 6, separator + 1 < fields.count else {
                return nil
            }
            let type = String(fields[separator + 1])
            guard type == "cgroup" || type == "cgroup2" else { return nil }
            let options = separator + 3 < fields.count ? fields[separator + 3].split(separator: ",") : []
            return CgroupMount(
                root: unescape(fields[3]), mountPoint: unescape(fields[4]), fileSystemType: type,
                superOptions: options.map(String.init))
        }
    }

    /// The directory of the cgroup at `path` (as `/proc/<pid>/cgroup` gives it) under this mount.
    ///
    /// The mount shows the hierarchy from ``root`` down, so `root` is cut off the front of `path`. With a root of `/`
    /// that is nothing; inside a container the root is often the container's own cgroup, equal to or above `path`.
    ///
    /// - Parameter path: The cgroup's path in the hierarchy.
    /// - Returns: The directory, or nil if the cgroup lies outside what this mount shows.
    public func directory(of path: String) -> String? {
        let relative: Substring
        if root == "/" {
            relative = path[...]
        } else if path == root {
            relative = ""
        } else if path.hasPrefix(root + "/") {
            relative = path.dropFirst(root.count)
        } else {
            return nil
        }
        let base = mountPoint.hasSuffix("/") && mountPoint != "/" ? String(mountPoint.dropLast()) : mountPoint
        let tail = relative.hasSuffix("/") ? relative.dropLast() : relative
        if tail.isEmpty { return base }
        return base == "/" ? String(tail) : base + tail
    }

    /// Decodes mountinfo's octal escapes: `\040` (space), `\011` (tab), `\012` (newline), `\134` (backslash).
    private static func unescape(_ field: Substring) -> String {
        guard field.contains("\\") else { return String(field) }
        var bytes: [UInt8] = []
        var utf8 = Array(field.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "\\"), utf8.count >= 3,
                let code = UInt8(String(decoding: utf8.prefix(3), as: UTF8.self), radix: 8)
            {
                bytes.append(code)
                utf8 = utf8.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
