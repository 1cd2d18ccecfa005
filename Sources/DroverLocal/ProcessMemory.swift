import CDroverSupport
import Foundation
public import Glibc

/// The memory a process uses, as the kernel counts it.
public enum ProcessMemory {
    /// Gives the memory malloc keeps free for reuse back to the kernel (`malloc_trim(0)`).
    ///
    /// glibc raises its mmap threshold after large blocks are freed, so later large values come
    /// from its heaps, and freeing them leaves the process's RSS where it was: a worker that
    /// spilled everything would still look full, and stay paused.
    public static func releaseFreeMemory() {
        _ = drover_release_free_memory()
    }

    /// The bytes this process's malloc has handed out and not had back (`mallinfo2`): the live
    /// heap, to compare with the resident size (the difference is what malloc keeps free).
    public static func heapInUse() -> Int64 {
        Int64(drover_heap_in_use())
    }

    /// Resident set size of process `pid` (this one by default), from `/proc/<pid>/statm`.
    public static func residentBytes(of pid: pid_t? = nil) -> Int64? {
        let path = "/proc/\(pid.map(String.init) ?? "self")/statm"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int64(fields[1]) else { return nil }
        return pages * Int64(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// The resident shared-memory pages of process `pid` (this one by default): `RssShmem` in
    /// `/proc/<pid>/status`, in bytes; memfd and tmpfs mappings, System V and anonymous shared memory.
    public static func residentSharedBytes(of pid: pid_t? = nil) -> Int64? {
        let path = "/proc/\(pid.map(String.init) ?? "self")/status"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("RssShmem:") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, let kibibytes = Int64(fields[1]) else { return nil }
            return kibibytes * 1024
        }
        return nil
    }
}
