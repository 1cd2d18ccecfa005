import DroverSystemd
import Foundation
import Glibc
import Testing

@Suite struct JournalStreamTests {
    @Test func matchesTheDescriptorItNames() throws {
        let file = try TemporaryFile()
        let identity = try #require(JournalStream.identity(of: file.descriptor))
        #expect(JournalStream.matches("\(identity.device):\(identity.inode)", fileDescriptor: file.descriptor))
    }

    @Test func doesNotMatchAnotherFile() throws {
        let (one, other) = (try TemporaryFile(), try TemporaryFile())
        let identity = try #require(JournalStream.identity(of: one.descriptor))
        #expect(!JournalStream.matches("\(identity.device):\(identity.inode)", fileDescriptor: other.descriptor))
        #expect(!JournalStream.matches("\(identity.device):\(identity.inode + 1)", fileDescriptor: one.descriptor))
        #expect(!JournalStream.matches("\(identity.device + 1):\(identity.inode)", fileDescriptor: one.descriptor))
    }

    @Test(arguments: [nil, "", "12", "12:", ":34", "a:b", "1:2:3", "-1:5"])
    func malformedValuesDoNotMatch(value: String?) throws {
        let file = try TemporaryFile()
        #expect(!JournalStream.matches(value, fileDescriptor: file.descriptor))
    }

    @Test func closedDescriptorDoesNotMatch() throws {
        let file = try TemporaryFile()
        let identity = try #require(JournalStream.identity(of: file.descriptor))
        #expect(!JournalStream.matches("\(identity.device):\(identity.inode)", fileDescriptor: -1))
    }
}

/// A file in the temporary directory, open for writing, removed when done.
private final class TemporaryFile {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("drover-journal-\(UUID())").path
    let descriptor: Int32

    init() throws {
        descriptor = open(path, O_CREAT | O_WRONLY, 0o600)
        guard descriptor >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
    }

    deinit {
        close(descriptor)
        unlink(path)
    }
}
