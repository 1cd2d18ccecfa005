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
            // Read to the end: String(contentsOfFile:) stops after the first 4 KiB of a /proc
            // table (about 26 sockets), so a busy machine's listener went unseen.
            guard let data = FileHandle(forReadingAtPath: table)?.readDataToEndOfFile() else { continue }
            let text = String(decoding: data, as: UTF8.self)
            for line in text.split(separator: "\n").dropFirst() {
                // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
                let fields = line.split(separator: " ")
                if fields.count > 9, fields[3] == "0A", let inode = UInt64(fields[9]) { inodes.insert(inode) }
            }
        }
        return inodes
    }

    private static func allProcessIDs() -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { pid_t($0) }
    }
}
