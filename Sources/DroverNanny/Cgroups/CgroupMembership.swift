/// One line of `/proc/<pid>/cgroup`: a hierarchy the process belongs to and its cgroup's path in it.
///
/// Lines read `hierarchy-ID:controller-list:path`. The cgroup v2 line is `0::/path`; a v1 line lists its controllers,
/// e.g. `4:memory:/process_api/5e8e` or `3:cpu,cpuacct:/`, or a name such as `name=systemd`.
public struct CgroupMembership: Sendable, Hashable {
    /// The hierarchy's number; 0 for cgroup v2.
    public var hierarchyID: Int
    /// The v1 controllers (or `name=...`) of the hierarchy; empty for cgroup v2.
    public var controllers: [String]
    /// The cgroup's path from the hierarchy's root, as this process's cgroup namespace sees it.
    public var path: String

    /// Creates a membership.
    public init(hierarchyID: Int, controllers: [String], path: String) {
        self.hierarchyID = hierarchyID
        self.controllers = controllers
        self.path = path
    }

    /// Whether this is the cgroup v2 (unified) line, `0::/path`.
    public var isUnified: Bool { hierarchyID == 0 && controllers.isEmpty }

    /// Reads the text of `/proc/<pid>/cgroup`; lines that are not of the form `ID:controllers:path` are skipped.
    ///
    /// - Parameter text: The file's contents.
    /// - Returns: One membership per hierarchy, in file order.
    public static func parse(_ text: String) -> [CgroupMembership] {
        text.split(separator: "\n").compactMap { line in
            // The path may itself contain ':'.
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3, let id = Int(fields[0]), fields[2].hasPrefix("/") else { return nil }
            var path = String(fields[2])
            if path.hasSuffix(" (deleted)") {
                path.removeLast(" (deleted)".count)
            }
            let controllers = fields[1].split(separator: ",").map(String.init)
            return CgroupMembership(hierarchyID: id, controllers: controllers, path: path)
        }
    }
}
