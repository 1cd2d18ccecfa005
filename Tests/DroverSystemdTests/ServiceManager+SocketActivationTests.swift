import Glibc
import Testing

@testable import DroverSystemd

/// What `sd_listen_fds` returned, checked against real sockets made here.
@Suite struct SocketActivationTests {
    @Test func noDescriptorsMeansNoSocket() throws {
        #expect(try ServiceManager.listeningSocket(count: 0, first: 3) == nil)
    }

    @Test func takesOneListeningStreamSocket() throws {
        let fd = try tcpSocket(listening: true)
        defer { close(fd) }
        #expect(try ServiceManager.listeningSocket(count: 1, first: fd) == fd)
    }

    @Test func refusesSeveralSockets() {
        #expect {
            try ServiceManager.listeningSocket(count: 2, first: 3)
        } throws: { error in
            let error = error as? SystemdError
            return error?.code == .socketActivationFailed && error?.message.contains("passed 2 sockets") == true
        }
    }

    @Test func reportsAnUnreadableEnvironment() {
        #expect {
            try ServiceManager.listeningSocket(count: -EBADMSG, first: 3)
        } throws: { error in
            (error as? SystemdError)?.errno == EBADMSG
        }
    }

    @Test func refusesAStreamSocketThatDoesNotListen() throws {
        let fd = try tcpSocket(listening: false)
        defer { close(fd) }
        #expect(throws: SystemdError.self) { try ServiceManager.listeningSocket(count: 1, first: fd) }
    }

    @Test func refusesADatagramSocket() throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        #expect(throws: SystemdError.self) { try ServiceManager.listeningSocket(count: 1, first: fd) }
    }

    @Test func refusesAPipe() throws {
        var ends: [Int32] = [0, 0]
        try #require(pipe(&ends) == 0)
        defer { for end in ends { close(end) } }
        #expect(throws: SystemdError.self) { try ServiceManager.listeningSocket(count: 1, first: ends[0]) }
    }

    /// A TCP socket bound to a free loopback port, listening or not.
    private func tcpSocket(listening: Bool) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        try #require(bound == 0)
        if listening { try #require(listen(fd, 8) == 0) }
        return fd
    }
}
