import Foundation
import Glibc

/// A datagram socket bound in a temporary directory, standing in for systemd's notify socket.
final class NotifySocket {
    let path: String
    private let directory: String
    private let descriptor: Int32

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("drover-notify-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        path = directory + "/notify"
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { bytes in
            for (index, byte) in path.utf8.enumerated() { bytes[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        // A bound on a broken test, not a timing assertion: the datagrams are sent synchronously.
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        // Each datagram carries its sender's pid: see `receive()`.
        var on: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_PASSCRED, &on, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit {
        close(descriptor)
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The next datagram this process sent, or nil when none came within the timeout.
    ///
    /// `NOTIFY_SOCKET` is process-wide while a test sets it, and a process another suite starts
    /// meanwhile (a `drover scheduler`) inherits it and says `READY=1` here: such datagrams are
    /// skipped by their sender's pid.
    func receive() -> String? {
        while let (text, sender) = receiveWithSender() {
            if sender == getpid() { return text }
        }
        return nil
    }

    private func receiveWithSender() -> (String, pid_t)? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        var control = [UInt8](repeating: 0, count: 64)
        return buffer.withUnsafeMutableBytes { data in
            control.withUnsafeMutableBytes { control -> (String, pid_t)? in
                var vector = iovec(iov_base: data.baseAddress, iov_len: data.count)
                return withUnsafeMutablePointer(to: &vector) { vectorPointer -> (String, pid_t)? in
                    var message = msghdr()
                    message.msg_iov = vectorPointer
                    message.msg_iovlen = 1
                    message.msg_control = control.baseAddress
                    message.msg_controllen = control.count
                    let count = recvmsg(descriptor, &message, 0)
                    guard count >= 0 else { return nil }
                    var sender: pid_t = -1
                    let header = MemoryLayout<cmsghdr>.size  // CMSG_DATA's offset on Linux
                    // struct ucred { pid_t pid; uid_t uid; gid_t gid } (Glibc's module hides it).
                    if message.msg_controllen >= header + 12 {
                        let level = control.loadUnaligned(fromByteOffset: 8, as: Int32.self)
                        let type = control.loadUnaligned(fromByteOffset: 12, as: Int32.self)
                        if level == SOL_SOCKET, type == 2 {  // SCM_CREDENTIALS
                            sender = control.loadUnaligned(fromByteOffset: header, as: pid_t.self)
                        }
                    }
                    return (String(decoding: data[..<count], as: UTF8.self), sender)
                }
            }
        }
    }

    /// Whether a datagram is waiting, without waiting for one.
    func hasPending() -> Bool {
        var byte: UInt8 = 0
        return recv(descriptor, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) >= 0
    }
}

/// Sets environment variables for the length of `body`, restoring what was there.
@discardableResult
func withEnvironment<T>(_ values: [String: String?], _ body: () async throws -> T) async throws -> T {
    var saved: [String: String?] = [:]
    for (name, value) in values {
        saved[name] = getenv(name).map { String(cString: $0) }
        if let value { setenv(name, value, 1) } else { unsetenv(name) }
    }
    defer {
        for (name, value) in saved {
            if let value { setenv(name, value, 1) } else { unsetenv(name) }
        }
    }
    return try await body()
}
