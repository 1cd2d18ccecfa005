import DroverCore
import Foundation
import Testing

@testable import DroverWorker

/// Spill files are private to the worker's user: another local user can neither read them nor
/// plant the directory or a file in its place.
@Suite struct SpillDirectoryTests {
    let payload = Payload(encoding: .raw, data: Data("secret result".utf8), typeName: "[UInt8]")

    /// Runs `arguments` as the user `nobody` (setpriv); its exit status.
    static func runAsNobody(_ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups"] + arguments
        process.standardError = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    static let canSwitchUsers = geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")

    @Test func theDirectoryIsUnpredictable0700AndItsFiles0600() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        var first = SpillDirectory(parent: temporary.path, pid: 9)
        let second = SpillDirectory(parent: temporary.path, pid: 9)
        #expect(first.path != second.path, "the same pid gets another name")
        try first.write(payload, for: "a")
        let directory = try FileManager.default.attributesOfItem(atPath: first.path)
        #expect(directory[.posixPermissions] as? Int == 0o700)
        #expect((directory[.ownerAccountID] as? NSNumber)?.uint32Value == geteuid())
        let files = try FileManager.default.contentsOfDirectory(atPath: first.path)
        #expect(files.count == 1)
        let file = try FileManager.default.attributesOfItem(atPath: "\(first.path)/\(files[0])")
        #expect(file[.posixPermissions] as? Int == 0o600)
        #expect(try first.read("a") == payload)
        first.removeAll()
    }

    @Test(.enabled(if: canSwitchUsers, "needs root and setpriv to run a check as nobody"))
    func anotherUserCannotReadASpilledValue() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: temporary.path)
        // The control: nobody reads a world-readable file beside the spill directory.
        let control = "\(temporary.path)/public"
        #expect(
            FileManager.default.createFile(
                atPath: control, contents: Data("x".utf8), attributes: [.posixPermissions: 0o644]))
        #expect(try Self.runAsNobody(["cat", control]) == 0, "the check cannot run as nobody here")
        var spill = SpillDirectory(parent: temporary.path, pid: 11)
        try spill.write(payload, for: "a")
        let file = "\(spill.path)/\(try FileManager.default.contentsOfDirectory(atPath: spill.path)[0])"
        #expect(try Self.runAsNobody(["cat", file]) != 0, "nobody read \(file)")
        #expect(try Self.runAsNobody(["ls", spill.path]) != 0, "nobody listed \(spill.path)")
        #expect(try Self.runAsNobody(["touch", "\(spill.path)/planted"]) != 0, "nobody wrote into \(spill.path)")
        spill.removeAll()
    }

    @Test func aDirectoryMadeFirstBySomeoneElseIsNeverUsed() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        var spill = SpillDirectory(parent: temporary.path, pid: 12, suffix: "guessed")
        try FileManager.default.createDirectory(atPath: spill.path, withIntermediateDirectories: false)
        #expect(throws: (any Error).self) { try spill.write(payload, for: "a") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: spill.path).isEmpty)
        spill.removeAll()
        #expect(FileManager.default.fileExists(atPath: spill.path), "someone else's directory is not removed")
    }

    @Test func aSpillFileReplacedByALinkIsNotFollowed() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        var spill = SpillDirectory(parent: temporary.path, pid: 13)
        try spill.write(payload, for: "a")
        let file = "\(spill.path)/\(try FileManager.default.contentsOfDirectory(atPath: spill.path)[0])"
        let forged = "\(temporary.path)/forged"
        #expect(FileManager.default.createFile(atPath: forged, contents: Data("forged".utf8)))
        try FileManager.default.removeItem(atPath: file)
        try FileManager.default.createSymbolicLink(atPath: file, withDestinationPath: forged)
        #expect(throws: (any Error).self) { try spill.read("a") }
        spill.removeAll()
    }
}
