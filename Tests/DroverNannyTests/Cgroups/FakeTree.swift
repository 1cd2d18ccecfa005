import Foundation

/// A file-system tree under a temporary directory that stands in for `/proc` and `/sys/fs/cgroup`.
final class FakeTree {
    let root: String

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("drover-fake-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: root)
    }

    /// `path` (absolute, as on the real system) inside the tree.
    func path(_ path: String) -> String {
        root + path
    }

    /// Writes `text` to the tree's `path`, making parent directories.
    func write(_ text: String, to path: String) throws {
        let full = self.path(path)
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: full, atomically: false, encoding: .utf8)
    }

    func makeDirectory(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: self.path(path), withIntermediateDirectories: true)
    }

    /// The text of the tree's `path`, or nil if it does not exist.
    func read(_ path: String) -> String? {
        try? String(contentsOfFile: self.path(path), encoding: .utf8)
    }

    func exists(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: self.path(path))
    }
}

/// `/proc` and `/sys/fs/cgroup` samples.
enum Samples {
    /// This development machine: cgroup v1 with memory at `/process_api/<id>`, and an unused v2 `unified` mount.
    static let thisMachineCgroup = """
        9:name=systemd:/
        8:pids:/
        7:blkio:/
        6:freezer:/
        5:devices:/
        4:memory:/process_api/5e8ecc993cf137b3b8b702c0ec9190f6
        3:cpuset:/
        2:cpuacct:/
        1:cpu:/
        0::/

        """
    static let thisMachineMountinfo = """
        22 1 0:20 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
        31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
        32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
        33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
        34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
        35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
        36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
        37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
        38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
        39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
        40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw

        """
    static let thisMachineMemoryDirectory = "/sys/fs/cgroup/memory/process_api/5e8ecc993cf137b3b8b702c0ec9190f6"

    /// A systemd host with only cgroup v2, the nanny running as a service.
    static let systemdCgroup = "0::/system.slice/drover-nanny.service\n"
    static let systemdMountinfo = """
        24 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
        35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 \
        rw,nsdelegate,memory_recursiveprot
        25 30 0:23 / /proc rw,nosuid,nodev,noexec,relatime shared:14 - proc proc rw

        """
    static let systemdServiceDirectory = "/sys/fs/cgroup/system.slice/drover-nanny.service"

    /// A hybrid systemd host (Ubuntu 20.04): v1 controllers, v2 mounted at `unified` for systemd only.
    static let hybridCgroup = """
        12:memory:/user.slice/user-1000.slice/session-3.scope
        4:cpu,cpuacct:/user.slice
        1:name=systemd:/user.slice/user-1000.slice/session-3.scope
        0::/user.slice/user-1000.slice/session-3.scope

        """
    static let hybridMountinfo = """
        32 24 0:28 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
        33 32 0:29 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
        34 32 0:30 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup \
        rw,xattr,name=systemd
        38 32 0:34 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,cpu,cpuacct
        41 32 0:37 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:19 - cgroup cgroup rw,memory

        """

    /// A Docker container on a v1 host without a cgroup namespace: only its own cgroup is bind-mounted.
    static let containerCgroup = """
        9:memory:/docker/0123abcd
        0::/system.slice/containerd.service

        """
    static let containerMountinfo = """
        1021 1013 0:32 /docker/0123abcd /sys/fs/cgroup/memory ro,nosuid,nodev,noexec,relatime master:15 - cgroup cgroup \
        rw,memory

        """
}
