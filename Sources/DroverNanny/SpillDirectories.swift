import DroverCore
import DroverLocal
import Foundation
import Glibc

/// The spill directories a nanny names for its workers, `<parent>/drover-worker-n<nanny pid>-<16
/// random hex digits>`: the nanny's pid, so that a nanny that starts after one that died can tell
/// whose they were; random digits, so that no other local user can make the directory first (a
/// worker refuses a directory that exists already).
enum SpillDirectories {
    static let prefix = "drover-worker-n"

    /// A new path under `parent` for a worker of this nanny (the worker makes the directory).
    static func path(parent: String, nanny: pid_t = getpid()) -> String {
        let name = "\(prefix)\(nanny)-" + Drover.unguessableSuffix()
        return URL(fileURLWithPath: parent).appendingPathComponent(name).path
    }

    /// The nanny pid in a name this type made; nil for any other name.
    static func nanny(ofName name: String) -> pid_t? {
        guard name.hasPrefix(prefix) else { return nil }
        let parts = name.dropFirst(prefix.count).split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[1].count == 16, parts[1].allSatisfy(\.isHexDigit),
            let pid = pid_t(parts[0]), pid > 0
        else { return nil }
        return pid
    }

    /// The directories under `parent` named by a nanny that is no longer running (not this one),
    /// and owned by this user.
    static func stale(in parent: String, isRunning: (pid_t) -> Bool = Self.isRunning) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? []
        return names.compactMap { name -> String? in
            guard let nanny = nanny(ofName: name), nanny != getpid(), !isRunning(nanny) else { return nil }
            let path = URL(fileURLWithPath: parent).appendingPathComponent(name).path
            var status = stat()
            // lstat: a symbolic link is never followed, nor removed as a directory.
            guard lstat(path, &status) == 0, status.st_mode & S_IFMT == S_IFDIR, status.st_uid == getuid() else {
                return nil
            }
            return path
        }
    }

    /// Whether a process with this pid exists (one of another user counts as running).
    static func isRunning(_ pid: pid_t) -> Bool {
        kill(pid, 0) == 0 || errno != ESRCH
    }

    /// Removes the directory at `path` and the spill files in it: the number of files, or nil
    /// when there was no directory (its worker removed it itself).
    static func remove(_ path: String) -> Int? {
        var status = stat()
        guard lstat(path, &status) == 0, status.st_mode & S_IFMT == S_IFDIR else { return nil }
        let files = (try? FileManager.default.contentsOfDirectory(atPath: path).count) ?? 0
        try? FileManager.default.removeItem(atPath: path)
        return files
    }
}
