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
}
