import Foundation
public import Glibc

/// The memory a process uses, as the kernel counts it.
public enum ProcessMemory {
    /// Resident set size of process `pid` (this one by default), from `/proc/<pid>/statm`.
    public static func residentBytes(of pid: pid_t? = nil) -> Int64? {
        let path = "/proc/\(pid.map(String.init) ?? "self")/statm"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int64(fields[1]) else { return nil }
        return pages * Int64(sysconf(Int32(_SC_PAGESIZE)))
    }
}
