import Foundation
import Glibc
import Testing

@testable import DroverNanny

@Suite struct SpillDirectoriesTests {
    @Test func aPathNamesItsNannyAndSixteenRandomHexDigits() throws {
        let first = SpillDirectories.path(parent: "/var/tmp", nanny: 4242)
        let second = SpillDirectories.path(parent: "/var/tmp", nanny: 4242)
        #expect(first != second)
        #expect(first.hasPrefix("/var/tmp/drover-worker-n4242-"))
        let name = try #require(first.split(separator: "/").last.map(String.init))
        #expect(SpillDirectories.nanny(ofName: name) == 4242)
    }

    @Test(arguments: [
        ("drover-worker-n17-0123456789abcdef", 17 as pid_t?),
        ("drover-worker-n17-0123456789ABCDEF", 17),
        ("drover-worker-17-0123456789abcdef", nil),  // a worker's own directory
        ("drover-worker-n17-0123456789abcde", nil),  // 15 digits
        ("drover-worker-n17-0123456789abcdefa", nil),  // 17 digits
        ("drover-worker-n17-0123456789abcdeg", nil),
        ("drover-worker-n-0123456789abcdef", nil),
        ("drover-worker-n0-0123456789abcdef", nil),
        ("drover-worker-n-5-0123456789abcdef", nil),
        ("drover-worker-n17-01234567-9abcdef", nil),
        ("drover-worker-nx7-0123456789abcdef", nil),
        ("", nil),
    ])
    func onlyNamesANannyMakesAreItsOwn(name: String, nanny: pid_t?) {
        #expect(SpillDirectories.nanny(ofName: name) == nanny)
    }

    @Test func staleDirectoriesAreThoseOfNanniesNotRunningAndNotLinks() throws {
        let parent = FileManager.default.temporaryDirectory.appendingPathComponent("drover-spill-\(UUID())").path
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let deadOne = "drover-worker-n101-00000000000000aa"
        let running = "drover-worker-n102-00000000000000bb"
        let mine = "drover-worker-n\(getpid())-00000000000000cc"
        let link = "drover-worker-n103-00000000000000dd"
        let file = "drover-worker-n104-00000000000000ee"
        for name in [deadOne, running, mine] {
            try FileManager.default.createDirectory(atPath: parent + "/" + name, withIntermediateDirectories: false)
        }
        let target = parent + "/" + deadOne
        #expect(symlink(target, parent + "/" + link) == 0)
        #expect(FileManager.default.createFile(atPath: parent + "/" + file, contents: Data()))
        let stale = SpillDirectories.stale(in: parent) { $0 == 102 }
        #expect(stale == [parent + "/" + deadOne])
    }

    @Test func removingCountsTheFilesAndSaysWhenThereWasNoDirectory() throws {
        let parent = FileManager.default.temporaryDirectory.appendingPathComponent("drover-spill-\(UUID())").path
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let directory = parent + "/drover-worker-n7-0000000000000001"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        for index in 0..<3 {
            #expect(FileManager.default.createFile(atPath: "\(directory)/\(index).spill", contents: Data([1])))
        }
        #expect(SpillDirectories.remove(directory) == 3)
        #expect(!FileManager.default.fileExists(atPath: directory))
        #expect(SpillDirectories.remove(directory) == nil)
        // A link where the directory was is not followed (nor removed as one).
        let elsewhere = parent + "/elsewhere"
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: false)
        #expect(symlink(elsewhere, directory) == 0)
        #expect(SpillDirectories.remove(directory) == nil)
        #expect(FileManager.default.fileExists(atPath: elsewhere))
    }
}
