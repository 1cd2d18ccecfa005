import DroverCore
import Foundation

/// Spilled results as files in a directory of this process's own, `<parent>/drover-worker-<pid>/`.
///
/// The directory is made on the first spill and removed by ``removeAll()``. A file holds one
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

    /// A directory for process `pid` under `parent` (not made yet).
    init(parent: String, pid: Int32) {
        path = URL(fileURLWithPath: parent).appendingPathComponent("drover-worker-\(pid)").path
    }

    /// The type name of a spilled `key`, without reading its file.
    func typeName(of key: TaskKey) -> String? { files[key]?.typeName }

    /// Writes `payload` to a new file for `key`; on failure nothing is left behind.
    ///
    /// - Throws: The file system's error (disk full, no permission).
    mutating func write(_ payload: Payload, for key: TaskKey) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        counter += 1
        let file = "\(path)/\(counter).spill"
        do {
            guard FileManager.default.createFile(atPath: file, contents: nil) else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: file])
            }
            let handle = try FileHandle(forWritingAtPath: file).orThrow(file)
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
        let handle = try FileHandle(forReadingAtPath: file.path).orThrow(file.path)
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
        try? FileManager.default.removeItem(atPath: path)
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

extension Optional where Wrapped == FileHandle {
    fileprivate func orThrow(_ path: String) throws -> FileHandle {
        guard let self else { throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: path]) }
        return self
    }
}
