import DroverNanny
import Testing

@Suite struct CgroupParsingTests {
    @Test func readsProcSelfCgroup() {
        let memberships = CgroupMembership.parse(Samples.thisMachineCgroup)
        #expect(memberships.count == 10)
        #expect(
            memberships[5]
                == CgroupMembership(
                    hierarchyID: 4, controllers: ["memory"], path: "/process_api/5e8ecc993cf137b3b8b702c0ec9190f6"))
        #expect(memberships[0].controllers == ["name=systemd"])
        #expect(memberships.last == CgroupMembership(hierarchyID: 0, controllers: [], path: "/"))
        #expect(memberships.last?.isUnified == true)
        #expect(memberships[5].isUnified == false)
    }

    @Test func pathsMayContainColonsAndDeletedCgroupsLoseTheirMark() {
        let memberships = CgroupMembership.parse("0::/a:b/c\n3:cpu,memory:/gone (deleted)\ngarbage\n7:x\n")
        #expect(
            memberships == [
                CgroupMembership(hierarchyID: 0, controllers: [], path: "/a:b/c"),
                CgroupMembership(hierarchyID: 3, controllers: ["cpu", "memory"], path: "/gone"),
            ])
    }

    @Test func readsCgroupMountsFromMountinfo() {
        let mounts = CgroupMount.parse(Samples.thisMachineMountinfo)
        #expect(mounts.count == 10)
        #expect(
            mounts.first(where: { $0.hasController("memory") })
                == CgroupMount(
                    root: "/", mountPoint: "/sys/fs/cgroup/memory", fileSystemType: "cgroup",
                    superOptions: ["rw", "memory"]))
        let unified = mounts.filter(\.isUnified)
        #expect(unified.map(\.mountPoint) == ["/sys/fs/cgroup/unified"])
        #expect(unified.first?.hasController("memory") == false)
    }

    @Test func mountinfoEscapesAndOptionalFieldsAreHandled() {
        let text = """
            50 31 0:40 / /mnt/my\\040cgroups rw,relatime shared:3 master:1 - cgroup2 none rw
            51 31 0:41 / /mnt/other rw - ext4 /dev/sda1 rw

            """
        let mounts = CgroupMount.parse(text)
        #expect(
            mounts == [
                CgroupMount(root: "/", mountPoint: "/mnt/my cgroups", fileSystemType: "cgroup2", superOptions: ["rw"])
            ])
    }

    @Test func aMountShowsTheCgroupsBelowItsRoot() {
        let atTop = CgroupMount(root: "/", mountPoint: "/sys/fs/cgroup", fileSystemType: "cgroup2", superOptions: [])
        #expect(atTop.directory(of: "/") == "/sys/fs/cgroup")
        #expect(atTop.directory(of: "/a/b") == "/sys/fs/cgroup/a/b")
        let container = CgroupMount(
            root: "/kubepods/pod1", mountPoint: "/sys/fs/cgroup/", fileSystemType: "cgroup2", superOptions: [])
        #expect(container.directory(of: "/kubepods/pod1") == "/sys/fs/cgroup")
        #expect(container.directory(of: "/kubepods/pod1/app") == "/sys/fs/cgroup/app")
        #expect(container.directory(of: "/kubepods/pod10") == nil)
        #expect(container.directory(of: "/other") == nil)
    }

    @Test func locatesThisMachinesMemoryCgroup() {
        let found = CgroupDirectory.locate(cgroup: Samples.thisMachineCgroup, mountinfo: Samples.thisMachineMountinfo)
        #expect(
            found.v1Memory
                == CgroupDirectory(
                    version: .v1, path: Samples.thisMachineMemoryDirectory, mountPoint: "/sys/fs/cgroup/memory"))
        #expect(
            found.v2
                == CgroupDirectory(version: .v2, path: "/sys/fs/cgroup/unified", mountPoint: "/sys/fs/cgroup/unified"))
    }

    @Test func locatesASystemdServiceOnPureV2() {
        let found = CgroupDirectory.locate(cgroup: Samples.systemdCgroup, mountinfo: Samples.systemdMountinfo)
        #expect(found.v1Memory == nil)
        #expect(
            found.v2
                == CgroupDirectory(version: .v2, path: Samples.systemdServiceDirectory, mountPoint: "/sys/fs/cgroup"))
        #expect(
            found.v2?.ancestors == [
                "/sys/fs/cgroup/system.slice/drover-nanny.service", "/sys/fs/cgroup/system.slice", "/sys/fs/cgroup",
            ])
    }

    @Test func locatesBothHierarchiesOnAHybridHost() {
        let found = CgroupDirectory.locate(cgroup: Samples.hybridCgroup, mountinfo: Samples.hybridMountinfo)
        #expect(found.v1Memory?.path == "/sys/fs/cgroup/memory/user.slice/user-1000.slice/session-3.scope")
        #expect(found.v2?.path == "/sys/fs/cgroup/unified/user.slice/user-1000.slice/session-3.scope")
    }

    @Test func aContainersOwnCgroupIsTheMountPointItself() {
        let found = CgroupDirectory.locate(cgroup: Samples.containerCgroup, mountinfo: Samples.containerMountinfo)
        #expect(
            found.v1Memory
                == CgroupDirectory(version: .v1, path: "/sys/fs/cgroup/memory", mountPoint: "/sys/fs/cgroup/memory"))
        #expect(found.v1Memory?.ancestors == ["/sys/fs/cgroup/memory"])
        // The v2 line names a cgroup, but no cgroup2 file system is mounted.
        #expect(found.v2 == nil)
    }

    @Test func aCgroupOutsideTheMountedPartIsNotFound() {
        let found = CgroupDirectory.locate(
            cgroup: "9:memory:/docker/other\n", mountinfo: Samples.containerMountinfo)
        #expect(found.v1Memory == nil)
    }

    @Test func memoryMayShareAHierarchyWithOtherControllers() {
        let found = CgroupDirectory.locate(
            cgroup: "5:cpu,memory:/jobs/7\n",
            mountinfo: "40 31 0:33 / /cg/cpu,memory rw - cgroup cgroup rw,cpu,memory\n")
        #expect(found.v1Memory?.path == "/cg/cpu,memory/jobs/7")
    }
}
