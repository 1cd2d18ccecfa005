import Foundation
import Glibc

/// Unix-domain sockets made by hand, for tests of what finds them: stale socket files, live ones.
public enum UnixSocket {
    /// A socket bound at `path` (listening when `listening`); the caller closes it, which leaves
    /// the file behind as a killed process would.
    public static func bound(at path: String, listening: Bool) throws -> Int32 {
        let socket = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard socket >= 0, bound == 0, !listening || listen(socket, 4) == 0 else {
            if socket >= 0 { close(socket) }
            throw POSIXError(.EIO)
        }
        return socket
    }
}
