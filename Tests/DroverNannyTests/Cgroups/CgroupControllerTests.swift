import DroverLocal
import DroverNanny
import Foundation
import Testing

/// The controller against fake `/proc` and `/sys/fs/cgroup` trees: which files it writes.
@Suite struct CgroupControllerTests {
    static let nannyPID: Int32 = 4242
    static let limit: Int64 = 300 << 20

    /// A systemd service on pure cgroup v2 with the memory controller delegated.
    static func makeSystemdTree(controllers: String = "cpu io memory pids\n") throws -> FakeTree {
        let tree = try FakeTree()
        try tree.write(Samples.systemdCgroup, to: "/proc/self/cgroup")
        try tree.write(Samples.systemdMountinfo, to: "/proc/self/mountinfo")
        try tree.write(controllers, to: Samples.systemdServiceDirectory + "/cgroup.controllers")
        try tree.write("\(nannyPID)\n", to: Samples.systemdServiceDirectory + "/cgroup.procs")
        try tree.write("\n", to: Samples.systemdServiceDirectory + "/cgroup.subtree_control")
        return tree
    }

    static func makeThisMachineTree() throws -> FakeTree {
        let tree = try FakeTree()
        try tree.write(Samples.thisMachineCgroup, to: "/proc/self/cgroup")
        try tree.write(Samples.thisMachineMountinfo, to: "/proc/self/mountinfo")
        try tree.makeDirectory(Samples.thisMachineMemoryDirectory)
        try tree.write("hugetlb\n", to: "/sys/fs/cgroup/unified/cgroup.controllers")
        return tree
    }

    // MARK: - cgroup v2

    @Test func v2MovesTheNannyToALeafEnablesMemoryAndWritesTheLimits() throws {
        let tree = try Self.makeSystemdTree()
        let controller = try CgroupController.find(root: tree.root, processID: Self.nannyPID)
        #expect(controller.version == .v2)
        #expect(controller.directory == tree.path(Samples.systemdServiceDirectory))

        let cgroup = try controller.create(name: "worker-0", limit: Self.limit)
        let service = Samples.systemdServiceDirectory
        #expect(cgroup.path == tree.path(service + "/worker-0"))
        #expect(cgroup.procsFile == tree.path(service + "/worker-0/cgroup.procs"))
        #expect(tree.read(service + "/nanny/cgroup.procs") == "4242")
        #expect(tree.read(service + "/cgroup.subtree_control") == "+memory")
        #expect(tree.read(service + "/worker-0/memory.max") == "314572800")
        #expect(tree.read(service + "/worker-0/memory.high") == "314572800")
        #expect(!tree.exists(service + "/worker-0/memory.swap.max"))
    }

    @Test func v2DelegatesOnlyOnce() throws {
        let tree = try Self.makeSystemdTree()
        let controller = try CgroupController.find(root: tree.root, processID: Self.nannyPID)
        _ = try controller.create(name: "worker-0", limit: Self.limit)
        let service = Samples.systemdServiceDirectory
        try tree.write("untouched", to: service + "/nanny/cgroup.procs")
        try tree.write("untouched", to: service + "/cgroup.subtree_control")
        _ = try controller.create(name: "worker-1", limit: Self.limit)
        #expect(tree.read(service + "/nanny/cgroup.procs") == "untouched")
        #expect(tree.read(service + "/cgroup.subtree_control") == "untouched")
        #expect(tree.read(service + "/worker-1/memory.max") == "314572800")
    }

    @Test func v2LeavesAnAlreadyEnabledMemoryControllerAlone() throws {
        let tree = try Self.makeSystemdTree()
        let service = Samples.systemdServiceDirectory
        try tree.write("cpu memory\n", to: service + "/cgroup.subtree_control")
        let controller = try CgroupController.find(root: tree.root, processID: Self.nannyPID)
        _ = try controller.create(name: "worker-0", limit: Self.limit)
        #expect(tree.read(service + "/cgroup.subtree_control") == "cpu memory\n")
        #expect(tree.read(service + "/nanny/cgroup.procs") == "4242")
    }

    @Test func v2ClosesSwapWhereTheKernelAccountsIt() throws {
        let tree = try Self.makeSystemdTree()
        let worker = Samples.systemdServiceDirectory + "/worker-0"
        try tree.write("max\n", to: worker + "/memory.swap.max")
        let controller = try CgroupController.find(root: tree.root, processID: Self.nannyPID)
        _ = try controller.create(name: "worker-0", limit: Self.limit)
        #expect(tree.read(worker + "/memory.swap.max") == "0")
    }

    @Test func v2ReadsOOMKillsPeakAndCurrentUsage() throws {
        let tree = try Self.makeSystemdTree()
        let controller = try CgroupController.find(root: tree.root, processID: Self.nannyPID)
        let cgroup = try controller.create(name: "worker-0", limit: Self.limit)
        let worker = Samples.systemdServiceDirectory + "/worker-0"
        try tree.write("low 0\nhigh 12\nmax 40\noom 1\noom_kill 0\noom_group_kill 0\n", to: worker + "/memory.events")
        #expect(try cgroup.oomKillCount() == 0)
        try tree.write("low 0\nhigh 12\nmax 41\noom 2\noom_kill 1\noom_group_kill 0\n", to: worker + "/memory.events")
        #expect(try cgroup.oomKillCount() == 1)
        #expect(try cgroup.peakBytes() == nil)
        try tree.write("314568704\n", to: worker + "/memory.peak")
        #expect(try cgroup.peakBytes() == 314_568_704)
        try tree.write("1048576\n", to: worker + "/memory.current")
        #expect(try cgroup.currentBytes() == 1 << 20)
    }

    @Test func v2RemovalDeletesTheCgroupAndToleratesItsAbsence() throws {
        let tree = try Self.makeSystemdTree()
        let controller = try CgroupController.find(root: tree.root, processID: Self.nannyPID)
        let cgroup = try controller.create(name: "worker-0", limit: Self.limit)
        try cgroup.remove()
        #expect(!tree.exists(Samples.systemdServiceDirectory + "/worker-0"))
        try cgroup.remove()
    }

    @Test func aLeftoverCgroupIsReusedAndItsProcessesAreKilled() throws {
        let tree = try Self.makeSystemdTree()
        let worker = Samples.systemdServiceDirectory + "/worker-0"
        let orphan = try Spawn.start("/bin/sleep", arguments: ["600"], descriptors: [])
        try tree.write("\(orphan)\n", to: worker + "/cgroup.procs")
        let controller = try CgroupController.find(root: tree.root, processID: Self.nannyPID)
        let cgroup = try controller.create(name: "worker-0", limit: Self.limit)
        let status = Spawn.wait(orphan)
        #expect(Spawn.describe(status: status) == "was killed by signal 9 (SIGKILL)")
        #expect(tree.read(worker + "/memory.max") == "314572800")
        // The pid is reaped and may be reused: keep remove() from killing it again.
        try tree.write("", to: worker + "/cgroup.procs")
        try cgroup.remove()
    }

    @Test func removalKillsWhatIsStillInTheCgroup() throws {
        let tree = try Self.makeSystemdTree()
        let controller = try CgroupController.find(root: tree.root, processID: Self.nannyPID)
        let cgroup = try controller.create(name: "worker-0", limit: Self.limit)
        let straggler = try Spawn.start("/bin/sleep", arguments: ["600"], descriptors: [])
        try tree.write("\(straggler)\n", to: Samples.systemdServiceDirectory + "/worker-0/cgroup.procs")
        #expect(cgroup.processIDs() == [straggler])
        try cgroup.remove()
        #expect(Spawn.describe(status: Spawn.wait(straggler)) == "was killed by signal 9 (SIGKILL)")
        #expect(!tree.exists(Samples.systemdServiceDirectory + "/worker-0"))
    }

    @Test func v2WithoutTheMemoryControllerIsUnavailable() throws {
        let tree = try Self.makeSystemdTree(controllers: "cpu io pids\n")
        #expect {
            try CgroupController.find(root: tree.root, processID: Self.nannyPID)
        } throws: { error in
            let error = try #require(error as? CgroupError)
            return error.code == .unavailable
                && error.message.contains("this process is in no mounted cgroup v1 memory hierarchy")
                && error.message.contains("does not offer the memory controller (cgroup.controllers: 'cpu io pids'")
        }
    }

    // MARK: - cgroup v1

    @Test func v1WritesTheLimitInTheOwnMemoryCgroup() throws {
        let tree = try Self.makeThisMachineTree()
        let controller = try CgroupController.find(root: tree.root, processID: Self.nannyPID)
        #expect(controller.version == .v1)
        #expect(controller.directory == tree.path(Samples.thisMachineMemoryDirectory))
        let cgroup = try controller.create(name: "worker-0", limit: Self.limit)
        let worker = Samples.thisMachineMemoryDirectory + "/worker-0"
        #expect(tree.read(worker + "/memory.limit_in_bytes") == "314572800")
        // No swap accounting in the fake tree: nothing to close, and no nanny leaf under v1.
        #expect(!tree.exists(worker + "/memory.memsw.limit_in_bytes"))
        #expect(!tree.exists(Samples.thisMachineMemoryDirectory + "/nanny"))
        try tree.write("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n", to: worker + "/memory.oom_control")
        #expect(try cgroup.oomKillCount() == 2)
        try tree.write("314572800\n", to: worker + "/memory.max_usage_in_bytes")
        #expect(try cgroup.peakBytes() == Self.limit)
        try tree.write("4096\n", to: worker + "/memory.usage_in_bytes")
        #expect(try cgroup.currentBytes() == 4096)
        try cgroup.remove()
        #expect(!tree.exists(worker))
    }

    @Test func v1ClosesSwapWhereTheKernelAccountsIt() throws {
        let tree = try Self.makeThisMachineTree()
        let worker = Samples.thisMachineMemoryDirectory + "/worker-0"
        try tree.write("9223372036854771712\n", to: worker + "/memory.memsw.limit_in_bytes")
        let controller = try CgroupController.find(root: tree.root)
        _ = try controller.create(name: "worker-0", limit: Self.limit)
        #expect(tree.read(worker + "/memory.memsw.limit_in_bytes") == "314572800")
    }

    @Test func unreadableFilesAreErrorsNamingTheFile() throws {
        let tree = try Self.makeThisMachineTree()
        let controller = try CgroupController.find(root: tree.root)
        let cgroup = try controller.create(name: "worker-0", limit: Self.limit)
        #expect {
            try cgroup.oomKillCount()
        } throws: { error in
            let message = (error as? CgroupError)?.message ?? ""
            return message == "Cannot read \(cgroup.path)/memory.oom_control: No such file or directory (ENOENT)."
        }
        try tree.write("lots\n", to: Samples.thisMachineMemoryDirectory + "/worker-0/memory.usage_in_bytes")
        #expect {
            try cgroup.currentBytes()
        } throws: { error in
            (error as? CgroupError)?.message
                == "\(cgroup.path)/memory.usage_in_bytes holds 'lots', not a number of bytes."
        }
    }

    @Test(arguments: ["", ".", "..", "nanny", "a/b"])
    func badWorkerNamesAreRejected(name: String) throws {
        let tree = try Self.makeThisMachineTree()
        let controller = try CgroupController.find(root: tree.root)
        #expect {
            try controller.create(name: name, limit: Self.limit)
        } throws: { error in
            (error as? CgroupError)?.code == .invalidArgument
        }
    }

    @Test func aLimitOfZeroIsRejected() throws {
        let tree = try Self.makeThisMachineTree()
        let controller = try CgroupController.find(root: tree.root)
        #expect {
            try controller.create(name: "worker-0", limit: 0)
        } throws: { error in
            (error as? CgroupError)?.code == .invalidArgument
        }
    }

    @Test func withoutProcTheReasonSaysSo() throws {
        let tree = try FakeTree()
        #expect {
            try CgroupController.find(root: tree.root)
        } throws: { error in
            let error = try #require(error as? CgroupError)
            return error.code == .unavailable && error.message.contains("/proc/self/cgroup")
        }
    }

    @Test func withoutAnyMemoryHierarchyBothReasonsAreGiven() throws {
        let tree = try FakeTree()
        try tree.write("4:memory:/x\n0::/\n", to: "/proc/self/cgroup")
        try tree.write(
            "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n", to: "/proc/self/mountinfo")
        try tree.write("hugetlb\n", to: "/sys/fs/cgroup/unified/cgroup.controllers")
        #expect {
            try CgroupController.find(root: tree.root)
        } throws: { error in
            (error as? CgroupError)?.message
                == "No cgroup for worker memory limits: this process is in no mounted cgroup v1 memory hierarchy; "
                + "the cgroup v2 directory \(tree.path("/sys/fs/cgroup/unified")) does not offer the memory "
                + "controller (cgroup.controllers: 'hugetlb'; systemd units need Delegate=yes)."
        }
    }
}
