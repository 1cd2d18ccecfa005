import DroverCore
import DroverLocal
import Foundation
import Glibc

/// Spilled results as files in a directory of this process's own,
/// `<parent>/drover-worker-<pid>-<random>/` (or the path its nanny named, which the nanny removes
/// after the worker exits), private to the worker's user.
///
/// The directory is made on the first spill, exclusively (an existing one, made by someone who
/// guessed the name, is an error, never used) with mode 0700, and removed by ``removeAll()``.
/// Files are created exclusively with mode 0600 and opened without following links, so another
/// local user can neither read a spilled value nor replace one. A file holds one
/// ``Payload``: its encoding (8 bytes, little-endian), the length of its type name (4 bytes),
/// the type name in UTF-8, then the data, so a value comes back byte for byte.
struct SpillDirectory {
    struct File {
        var path: String
        var typeName: String
    }

    /// The directory's path.
    let path: String
    private var files: [TaskKey: File] = [:]
    private var counter = 0
    private var isCreated = false

    /// A directory for process `pid` under `parent` (not made yet), its name ending in
    /// `suffix` (by default 16 random hex digits, so that no one can make it first).
    init(parent: String, pid: Int32, suffix: String = Drover.unguessableSuffix()) {
        path = URL(fileURLWithPath: parent).appendingPathComponent("drover-worker-\(pid)-\(suffix)").path
    }

    /// The directory at `path` (not made yet): the one its nanny named for this worker.
    init(path: String) {
        self.path = path
    }

    /// Makes the directory, exclusively, with mode 0700.
    private mutating func create() throws {
        guard !isCreated else { return }
        guard mkdir(path, 0o700) == 0 else {
            throw Self.error(errno, path, "cannot create the spill directory (it must not exist yet)")
        }
        // The umask may have taken bits away; make it exactly 0700.
        guard chmod(path, 0o700) == 0 else { throw Self.error(errno, path, "cannot set its mode") }
        isCreated = true
    }

    private static func error(_ code: Int32, _ path: String, _ what: String) -> NSError {
        NSError(
            domain: NSPOSIXErrorDomain, code: Int(code),
            userInfo: [
                NSFilePathErrorKey: path,
                NSLocalizedDescriptionKey: "\(what): \(path): \(String(cString: strerror(code)))",
            ])
    }

    /// The type name of a spilled `key`, without reading its file.
    func typeName(of key: TaskKey) -> String? { files[key]?.typeName }

    /// Writes `payload` to a new file for `key`; on failure nothing is left behind.
    ///
    /// - Throws: The file system's error (disk full, no permission).
    mutating func write(_ payload: Payload, for key: TaskKey) throws {
        try create()
        counter += 1
        let file = "\(path)/\(counter).spill"
        let descriptor = open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw Self.error(errno, file, "cannot create a spill file") }
        do {
            let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
            do {
                try handle.write(contentsOf: Self.header(of: payload))
                try handle.write(contentsOf: payload.data)
            } catch {
                try? handle.close()
                throw error
            }
            try handle.close()
        } catch {
            try? FileManager.default.removeItem(atPath: file)
            throw error
        }
        remove(key)
        files[key] = File(path: file, typeName: payload.typeName)
    }

    /// Reads the value of `key` back.
    ///
    /// - Throws: The file system's error, or `CocoaError(.fileReadCorruptFile)` for a short file.
    func read(_ key: TaskKey) throws -> Payload {
        guard let file = files[key] else { throw CocoaError(.fileNoSuchFile) }
        let descriptor = open(file.path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else { throw Self.error(errno, file.path, "cannot open a spill file") }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        defer { try? handle.close() }
        let fixed = try handle.read(upToCount: 12) ?? Data()
        guard fixed.count == 12 else { throw CocoaError(.fileReadCorruptFile) }
        let encoding = fixed.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * $1.offset) }
        let nameCount = fixed.dropFirst(8).enumerated().reduce(Int(0)) { $0 | Int($1.element) << (8 * $1.offset) }
        let name = nameCount == 0 ? Data() : try handle.read(upToCount: nameCount) ?? Data()
        guard name.count == nameCount, let typeName = String(data: name, encoding: .utf8) else {
            throw CocoaError(.fileReadCorruptFile)
        }
        let data = try handle.readToEnd() ?? Data()
        return Payload(encoding: .init(rawValue: Int(Int64(bitPattern: encoding))), data: data, typeName: typeName)
    }

    /// Deletes the file of `key`, if any.
    mutating func remove(_ key: TaskKey) {
        guard let file = files.removeValue(forKey: key) else { return }
        try? FileManager.default.removeItem(atPath: file.path)
    }

    /// Deletes every file and the directory itself.
    mutating func removeAll() {
        files = [:]
        guard isCreated else { return }
        try? FileManager.default.removeItem(atPath: path)
        isCreated = false
    }

    private static func header(of payload: Payload) -> Data {
        let name = Data(payload.typeName.utf8)
        var header = Data(capacity: 12 + name.count)
        let encoding = UInt64(bitPattern: Int64(payload.encoding.rawValue))
        for shift in stride(from: 0, to: 64, by: 8) { header.append(UInt8(truncatingIfNeeded: encoding >> shift)) }
        for shift in stride(from: 0, to: 32, by: 8) { header.append(UInt8(truncatingIfNeeded: name.count >> shift)) }
        header.append(name)
        return header
    }
}
