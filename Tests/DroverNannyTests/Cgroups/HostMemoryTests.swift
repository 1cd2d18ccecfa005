import DroverNanny
import Testing

@Suite struct HostMemoryTests {
    static let meminfo = "MemTotal:       24683656 kB\nMemFree:        21853336 kB\n"
    static let memTotal: Int64 = 24_683_656 * 1024
    static let unlimitedV1 = "9223372036854771712\n"

    @Test func readsMemTotal() {
        #expect(HostMemory.parseMemTotal(Self.meminfo) == Self.memTotal)
        #expect(HostMemory.parseMemTotal("MemFree: 1 kB\n") == nil)
        #expect(HostMemory.parseMemTotal("MemTotal: lots kB\n") == nil)
    }

    @Test(arguments: [
        ("max\n", Int64?.none), ("9223372036854771712\n", nil), ("4611686018427387904", nil),
        ("4611686018427387903", 4_611_686_018_427_387_903), ("1073741824\n", 1 << 30), ("", nil), ("junk", nil),
    ])
    func readsCgroupLimits(text: String, bytes: Int64?) {
        #expect(HostMemory.parseCgroupLimit(text) == bytes)
    }

    @Test func withoutCgroupsTheLimitIsMemTotal() throws {
        let tree = try FakeTree()
        try tree.write(Self.meminfo, to: "/proc/meminfo")
        let limit = try HostMemory.limit(root: tree.root)
        #expect(limit == HostMemory(bytes: Self.memTotal, source: tree.path("/proc/meminfo")))
    }

    @Test func thisMachinesUnlimitedV1CgroupsLeaveMemTotal() throws {
        let tree = try FakeTree()
        try tree.write(Self.meminfo, to: "/proc/meminfo")
        try tree.write(Samples.thisMachineCgroup, to: "/proc/self/cgroup")
        try tree.write(Samples.thisMachineMountinfo, to: "/proc/self/mountinfo")
        try tree.write(Self.unlimitedV1, to: Samples.thisMachineMemoryDirectory + "/memory.limit_in_bytes")
        try tree.write(Self.unlimitedV1, to: "/sys/fs/cgroup/memory/process_api/memory.limit_in_bytes")
        try tree.write(Self.unlimitedV1, to: "/sys/fs/cgroup/memory/memory.limit_in_bytes")
        #expect(try HostMemory.limit(root: tree.root).bytes == Self.memTotal)
    }

    @Test func aV1AncestorsLimitApplies() throws {
        let tree = try FakeTree()
        try tree.write(Self.meminfo, to: "/proc/meminfo")
        try tree.write(Samples.thisMachineCgroup, to: "/proc/self/cgroup")
        try tree.write(Samples.thisMachineMountinfo, to: "/proc/self/mountinfo")
        try tree.write(Self.unlimitedV1, to: Samples.thisMachineMemoryDirectory + "/memory.limit_in_bytes")
        let parent = "/sys/fs/cgroup/memory/process_api/memory.limit_in_bytes"
        try tree.write("8589934592\n", to: parent)
        #expect(try HostMemory.limit(root: tree.root) == HostMemory(bytes: 8 << 30, source: tree.path(parent)))
    }

    @Test func theLeastV2MemoryMaxUpToTheMountPointApplies() throws {
        let tree = try FakeTree()
        try tree.write(Self.meminfo, to: "/proc/meminfo")
        try tree.write(Samples.systemdCgroup, to: "/proc/self/cgroup")
        try tree.write(Samples.systemdMountinfo, to: "/proc/self/mountinfo")
        try tree.write("max\n", to: Samples.systemdServiceDirectory + "/memory.max")
        try tree.write("4294967296\n", to: "/sys/fs/cgroup/system.slice/memory.max")
        // The root cgroup has no memory.max; a bigger value above the slice must not win either.
        let limit = try HostMemory.limit(root: tree.root)
        #expect(limit == HostMemory(bytes: 4 << 30, source: tree.path("/sys/fs/cgroup/system.slice/memory.max")))
        try tree.write("2147483648\n", to: Samples.systemdServiceDirectory + "/memory.max")
        #expect(try HostMemory.limit(root: tree.root).bytes == 2 << 30)
    }

    @Test func aCgroupLimitAboveRAMLeavesRAM() throws {
        let tree = try FakeTree()
        try tree.write(Self.meminfo, to: "/proc/meminfo")
        try tree.write(Samples.systemdCgroup, to: "/proc/self/cgroup")
        try tree.write(Samples.systemdMountinfo, to: "/proc/self/mountinfo")
        try tree.write("\(Self.memTotal * 2)\n", to: Samples.systemdServiceDirectory + "/memory.max")
        #expect(try HostMemory.limit(root: tree.root).bytes == Self.memTotal)
    }

    @Test func aContainerLimitApplies() throws {
        let tree = try FakeTree()
        try tree.write(Self.meminfo, to: "/proc/meminfo")
        try tree.write(Samples.containerCgroup, to: "/proc/self/cgroup")
        try tree.write(Samples.containerMountinfo, to: "/proc/self/mountinfo")
        try tree.write("536870912\n", to: "/sys/fs/cgroup/memory/memory.limit_in_bytes")
        #expect(try HostMemory.limit(root: tree.root).bytes == 512 << 20)
    }

    @Test func aMissingMeminfoIsAnErrorNamingTheFile() throws {
        let tree = try FakeTree()
        #expect {
            try HostMemory.limit(root: tree.root)
        } throws: { error in
            let error = try #require(error as? CgroupError)
            return error.code == .fileSystem && error.message.contains(tree.path("/proc/meminfo"))
                && error.message.contains("ENOENT")
        }
    }

    #if os(Linux)
        @Test func theRealHostHasALimit() throws {
            let limit = try HostMemory.limit()
            #expect(limit.bytes > 0)
        }
    #endif
}
