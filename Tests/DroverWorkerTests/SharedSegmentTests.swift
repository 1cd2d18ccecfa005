import CDroverSupport
import DroverCore
import DroverProto
import Foundation
import Glibc
import Testing

@testable import DroverWorker

@Suite struct SharedSegmentTests {
    static func bytes(_ count: Int) -> Data {
        Data((0..<count).map { UInt8(truncatingIfNeeded: $0 % 251) })
    }

    static func reference(_ server: SegmentServer, _ number: UInt64, length: Int) -> SharedValue {
        SharedValue(
            key: "k", socket: server.name, segment: number, encoding: .raw, typeName: "Data",
            totalBytes: Int64(length))
    }

    @Test func aSegmentHoldsItsBytesAndIsSealedAgainstChange() throws {
        let data = Self.bytes(3 << 20)
        let segment = try SharedSegment.make(copying: data, name: "test")
        #expect(try segment.map() == data)
        #expect(drover_memfd_is_sealed(segment.descriptor) == 1)
        // Neither truncated nor written, nor mapped writable: a consumer's mapping cannot change or vanish.
        #expect(ftruncate(segment.descriptor, 0) != 0)
        #expect(pwrite(segment.descriptor, "x", 1, 0) != 1)
        let writable = mmap(nil, data.count, PROT_READ | PROT_WRITE, MAP_SHARED, segment.descriptor, 0)
        #expect(writable == MAP_FAILED)
    }

    @Test func aMappingOutlivesItsSegment() throws {
        let data = Self.bytes(1 << 20)
        var segment: SharedSegment? = try SharedSegment.make(copying: data, name: "test")
        let mapped = try segment!.map()
        segment = nil
        #expect(mapped == data)
    }

    @Test func aPeerGetsTheDescriptorOverTheSocketAndMapsTheSameBytes() throws {
        let server = try SegmentServer()
        defer { server.stop() }
        let data = Self.bytes(2 << 20)
        let number = server.register(try SharedSegment.make(copying: data, name: "test"))
        let received = try SegmentServer.fetch(Self.reference(server, number, length: data.count))
        #expect(try received.map() == data)

        // A length other than the segment's, a number never given, a withdrawn segment: refused.
        #expect(throws: SharedMemoryError.self) {
            try SegmentServer.fetch(Self.reference(server, number, length: data.count - 1))
        }
        #expect(throws: SharedMemoryError.self) { try SegmentServer.fetch(Self.reference(server, 999, length: 1)) }
        server.unregister(number)
        #expect(throws: SharedMemoryError.self) {
            try SegmentServer.fetch(Self.reference(server, number, length: data.count))
        }
    }

    @Test func anUnsealedFileIsRefused() throws {
        let descriptor = drover_memfd_create("unsealed")
        try #require(descriptor >= 0)
        #expect(ftruncate(descriptor, 4096) == 0)
        #expect(throws: SharedMemoryError.self) { try SharedSegment.adopt(descriptor: descriptor, length: 4096) }
    }

    @Test func noSocketNoSegment() {
        let reference = SharedValue(
            key: "k", socket: "drover-segments-none-\(UUID().uuidString)", segment: 1, encoding: .raw,
            typeName: "", totalBytes: 1)
        #expect(throws: SharedMemoryError.self) { try SegmentServer.fetch(reference) }
    }

    static let canSwitchUser =
        geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")
        && FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")

    /// As `nobody`, a process on this host tries both ways in: the segment socket (the server
    /// answers only its own user) and the producer's descriptor under /proc (ptrace rules).
    @Test(.enabled(if: canSwitchUser, "needs root, setpriv and python3"))
    func anotherUserCanNeitherFetchNorOpenASegment() async throws {
        let server = try SegmentServer()
        defer { server.stop() }
        let segment = try SharedSegment.make(copying: Self.bytes(1 << 20), name: "test")
        let number = server.register(segment)
        let script = """
            import array, os, socket, struct, sys
            name, number, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            s.settimeout(5)
            try:
                s.connect("\\0" + name)
                s.send(struct.pack("<Q", number))
                data, ancillary, flags, _ = s.recvmsg(16, socket.CMSG_SPACE(4))
                print("socket", "got-descriptor" if ancillary else "refused")
            except OSError as error:
                print("socket", "refused", type(error).__name__)
            try:
                os.open(path, os.O_RDONLY)
                print("proc", "opened")
            except OSError as error:
                print("proc", "refused", type(error).__name__)
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = [
            "--reuid=nobody", "--regid=nogroup", "--clear-groups", "/usr/bin/python3", "-c", script, server.name,
            String(number), "/proc/\(getpid())/fd/\(segment.descriptor)",
        ]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let lines = text.split(separator: "\n").map { $0.split(separator: " ").prefix(2).joined(separator: " ") }
        #expect(lines == ["socket refused", "proc refused"], "\(text)")
        // The same request from this user gets the segment: the refusal was about the user.
        #expect(try SegmentServer.fetch(Self.reference(server, number, length: 1 << 20)).length == 1 << 20)
    }
}
