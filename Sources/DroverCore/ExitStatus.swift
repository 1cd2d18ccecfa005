/// How a child process ended, read from its raw `waitpid` status.
public enum ExitStatus: Sendable, Hashable, CustomStringConvertible {
    case exited(code: Int32)
    case signaled(Int32)

    public init(waitStatus: Int32) {
        let signal = waitStatus & 0x7F
        self = signal == 0 ? .exited(code: (waitStatus >> 8) & 0xFF) : .signaled(signal)
    }

    /// "exited with code 1", "killed by signal 9 (SIGKILL)".
    public var description: String {
        switch self {
        case .exited(let code): "exited with code \(code)"
        case .signaled(let signal): "killed by signal \(signal)\(Self.signalName(signal).map { " (\($0))" } ?? "")"
        }
    }

    /// "SIGKILL" for 9, and so on; nil for a number without a common name.
    public static func signalName(_ signal: Int32) -> String? { signalNames[signal] }

    // The numbers, not Glibc's constants: this file stays free of platform imports. These agree on Linux and Darwin.
    private static let commonSignalNames: [Int32: String] = [
        1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 8: "SIGFPE", 9: "SIGKILL",
        11: "SIGSEGV", 13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM",
    ]
    #if os(Linux)
        private static let signalNames = commonSignalNames.merging(
            [7: "SIGBUS", 10: "SIGUSR1", 12: "SIGUSR2", 24: "SIGXCPU", 25: "SIGXFSZ"], uniquingKeysWith: { $1 })
    #else
        private static let signalNames = commonSignalNames.merging(
            [10: "SIGBUS", 30: "SIGUSR1", 31: "SIGUSR2", 24: "SIGXCPU", 25: "SIGXFSZ"], uniquingKeysWith: { $1 })
    #endif
}
