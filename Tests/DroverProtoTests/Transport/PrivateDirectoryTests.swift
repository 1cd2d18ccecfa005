import DroverProto
import DroverTestKit
import Foundation
import Glibc
import Testing

/// The private directory the scheduler's gRPC socket lives in: fresh, unpredictable, 0700.
@Suite struct PrivateDirectoryTests {
    @Test func eachDirectoryIsNewAndOnlyItsOwnerMayEnterIt() throws {
        let first = try PrivateDirectory(prefix: "drover-test")
        let second = try PrivateDirectory(prefix: "drover-test")
        defer {
            first.remove()
            second.remove()
        }
        #expect(first.path != second.path)
        let attributes = try FileManager.default.attributesOfItem(atPath: first.path)
        #expect(attributes[.posixPermissions] as? Int == 0o700)
        #expect(attributes[.type] as? FileAttributeType == .typeDirectory)
        #expect(FileManager.default.createFile(atPath: first.path + "/grpc.sock", contents: Data()))
        first.remove()
        #expect(!FileManager.default.fileExists(atPath: first.path))
    }

    /// A directory left by a killed process (its socket file remains, no one listens) is removed
    /// once old enough; one in use, or young, is kept.
    @Test func abandonedDirectoriesAreRemovedAndOthersKept() throws {
        let abandoned = try PrivateDirectory(prefix: "drover-test-abandoned")
        let listening = try PrivateDirectory(prefix: "drover-test-abandoned")
        let young = try PrivateDirectory(prefix: "drover-test-abandoned")
        defer {
            for directory in [abandoned, listening, young] { directory.remove() }
        }
        let dead = try UnixSocket.bound(at: abandoned.path + "/grpc.sock", listening: false)
        close(dead)
        let live = try UnixSocket.bound(at: listening.path + "/grpc.sock", listening: true)
        defer { close(live) }
        close(try UnixSocket.bound(at: young.path + "/grpc.sock", listening: false))
        for directory in [abandoned, listening] {
            var old = [timeval(tv_sec: time(nil) - 120, tv_usec: 0), timeval(tv_sec: time(nil) - 120, tv_usec: 0)]
            #expect(utimes(directory.path, &old) == 0)
        }
        let removed = PrivateDirectory.removeAbandoned(prefix: "drover-test-abandoned", socketName: "grpc.sock")
        let name = { (path: String) in URL(fileURLWithPath: path).lastPathComponent }
        #expect(removed.map(name) == [name(abandoned.path)])
        #expect(!FileManager.default.fileExists(atPath: abandoned.path))
        #expect(FileManager.default.fileExists(atPath: listening.path))
        #expect(FileManager.default.fileExists(atPath: young.path))
    }
}
