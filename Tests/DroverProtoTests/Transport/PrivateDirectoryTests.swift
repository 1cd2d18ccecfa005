import DroverProto
import Foundation
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
}
