import Foundation

/// What `/proc` says about processes, descriptors and sockets: for tests that count the processes
/// a program started, or look at what a child inherited.
enum ProcessTable {
    /// The pids of the running (not zombie) processes whose environment holds `entry` (`NAME=value`).
    static func processIDs(withEnvironmentEntry entry: String) -> [pid_t] {
        let wanted = Array(entry.utf8)
        return allProcessIDs().filter { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return false }
            return data.split(separator: 0).contains { Array($0) == wanted }
        }
    }

    /// The pids of `parent`'s children.
    static func children(of parent: pid_t) -> [pid_t] {
        allProcessIDs().filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let end = stat.lastIndex(of: ")")
            else { return false }
            // After "pid (comm) ": state, then the parent's pid.
            let fields = stat[stat.index(after: end)...].split(separator: " ")
            return fields.count > 1 && pid_t(fields[1]) == parent
        }
    }

    /// The inodes of the sockets `pid` holds on descriptors `lowest` and up.
    static func socketInodes(of pid: pid_t, from lowest: Int32 = 0) -> Set<UInt64> {
        let directory = "/proc/\(pid)/fd"
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var inodes: Set<UInt64> = []
        for name in descriptors {
            guard let fd = Int32(name), fd >= lowest,
                let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(directory)/\(name)"),
                target.hasPrefix("socket:[")
            else { continue }
            if let inode = UInt64(target.dropFirst("socket:[".count).dropLast()) { inodes.insert(inode) }
        }
        return inodes
    }

    /// The inodes of the TCP sockets that listen (state 0A in `/proc/net/tcp` and `tcp6`).
    static func listeningSocketInodes() -> Set<UInt64> {
        var inodes: Set<UInt64> = []
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let text = readWhole(table) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
                let fields = line.split(separator: " ")
                if fields.count > 9, fields[3] == "0A", let inode = UInt64(fields[9]) { inodes.insert(inode) }
            }
        }
        return inodes
    }

    /// The whole of a /proc file, read until end of file: such files report size 0, and a
    /// reader that trusts the size or reads once gets the first page only (a busy machine's socket
    /// table is longer, and a listening socket past it looked absent).
    private static func readWhole(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(fd, &chunk, chunk.count)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func allProcessIDs() -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { pid_t($0) }
    }
}
