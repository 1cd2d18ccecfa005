import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads and writes cgroup and proc files with single system calls, as the kernel expects (one `write` per value),
/// and turns failures into ``CgroupError``s that name the file and the errno.
enum ControlFile {
    /// The file's whole text.
    static func read(_ path: String) throws(CgroupError) -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw failure("Cannot read \(path)", errno) }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { systemRead(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw failure("Cannot read \(path)", errno)
            }
            if count == 0 { break }
            bytes += chunk[..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The file's text, or nil if it does not exist.
    static func readIfPresent(_ path: String) throws(CgroupError) -> String? {
        guard exists(path) else { return nil }
        do {
            return try read(path)
        } catch let error where (error.cause as? POSIXError)?.code == .ENOENT {
            return nil
        }
    }

    /// Writes `text` with one `write`, creating the file if needed (which only a test tree allows).
    static func write(_ text: String, to path: String) throws(CgroupError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw failure("Cannot open \(path) to write '\(text)'", errno) }
        defer { close(descriptor) }
        let bytes = Array(text.utf8)
        var written: Int
        repeat {
            written = bytes.withUnsafeBytes { systemWrite(descriptor, $0.baseAddress, $0.count) }
        } while written < 0 && errno == EINTR
        guard written == bytes.count else {
            throw failure("Cannot write '\(text)' to \(path)", written < 0 ? errno : EIO)
        }
    }

    static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// Nil if this process may write to `path`, else the errno saying why not.
    static func writeAccessError(_ path: String) -> Int32? {
        access(path, W_OK) == 0 ? nil : errno
    }

    /// A "Cannot ...: reason (ENAME)." error with the errno as its cause.
    static func failure(_ action: String, _ number: Int32, code: CgroupError.Code = .fileSystem) -> CgroupError {
        CgroupError(
            code: code, message: "\(action): \(describe(errno: number)).",
            cause: POSIXErrorCode(rawValue: number).map { POSIXError($0) })
    }

    /// "Permission denied (EACCES)".
    static func describe(errno number: Int32) -> String {
        let names: [Int32: String] = [
            EPERM: "EPERM", ENOENT: "ENOENT", ESRCH: "ESRCH", EINTR: "EINTR", EIO: "EIO", EACCES: "EACCES",
            EBUSY: "EBUSY", EEXIST: "EEXIST", ENOTDIR: "ENOTDIR", EINVAL: "EINVAL", ENOSPC: "ENOSPC", EROFS: "EROFS",
            ENOTEMPTY: "ENOTEMPTY", EOPNOTSUPP: "EOPNOTSUPP",
        ]
        let reason = String(cString: strerror(number))
        return names[number].map { "\(reason) (\($0))" } ?? "\(reason) (errno \(number))"
    }
}

/// `path` inside the file-system tree at `root` ("/" for the real one, a temporary directory in tests).
func rooted(_ path: String, in root: String) -> String {
    let base = root.hasSuffix("/") ? String(root.dropLast()) : root
    return base + (path.hasPrefix("/") ? path : "/" + path)
}

// Free functions, because inside ``ControlFile`` the names `read` and `write` mean its own methods.
private func systemRead(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    #if canImport(Glibc)
        Glibc.read(descriptor, buffer, count)
    #else
        Darwin.read(descriptor, buffer, count)
    #endif
}

private func systemWrite(_ descriptor: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
    #if canImport(Glibc)
        Glibc.write(descriptor, buffer, count)
    #else
        Darwin.write(descriptor, buffer, count)
    #endif
}
