import Foundation
import Glibc

/// A directory only this user can enter (`mkdtemp`: a fresh unpredictable name, mode 0700), for
/// sockets and files no one else may reach.
public struct PrivateDirectory: Sendable {
    /// Its path.
    public let path: String

    /// Makes `<temporary directory>/<prefix>-XXXXXX`.
    ///
    /// - Throws: ``SecurityError`` when the directory cannot be made.
    public init(prefix: String) throws(SecurityError) {
        var template = Array((NSTemporaryDirectory() + "/\(prefix)-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw SecurityError("Cannot make a temporary directory: \(String(cString: strerror(errno))).")
        }
        path = String(cString: made)
    }

    /// Removes it and everything in it.
    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Removes this user's directories `<temporary directory>/<prefix>-XXXXXX` whose socket
    /// `socketName` no one listens on any more: left by a process killed before it could remove
    /// its own (a worker OOM-killed or SIGKILLed). A directory younger than `minimumAgeSeconds` (one being
    /// set up) or whose socket accepts a connection (in use) is left alone.
    ///
    /// - Returns: The directories removed.
    @discardableResult
    public static func removeAbandoned(prefix: String, socketName: String, minimumAgeSeconds: Int = 60) -> [String] {
        let parent = NSTemporaryDirectory()
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: parent) else { return [] }
        var removed: [String] = []
        for name in names where name.hasPrefix(prefix + "-") && name.count == prefix.count + 7 {
            let path = URL(fileURLWithPath: parent).appendingPathComponent(name).path
            // Foundation reads these with lstat: a symbolic link is not a directory here.
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
                attributes[.type] as? FileAttributeType == .typeDirectory,
                (attributes[.ownerAccountID] as? NSNumber)?.uint32Value == getuid(),
                let modified = attributes[.modificationDate] as? Date,
                Date().timeIntervalSince(modified) >= TimeInterval(minimumAgeSeconds),
                !isListening(path + "/" + socketName)
            else { continue }
            try? FileManager.default.removeItem(atPath: path)
            removed.append(path)
        }
        return removed
    }

    /// Whether a process accepts connections on the Unix socket at `path` (a missing socket, or one
    /// that refuses, is not in use; one whose backlog is full is).
    static func isListening(_ path: String) -> Bool {
        let socket = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard socket >= 0 else { return true }
        defer { close(socket) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return true }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return result == 0 || (errno != ECONNREFUSED && errno != ENOENT)
    }
}
