public import Logging

/// How swift-log's vocabulary becomes journal fields (`systemd.journal-fields(7)`).
public enum JournalField {
    /// The longest field name journald accepts.
    public static let maximumNameLength = 64

    /// The journal field for a metadata key: upper case, every character other than `A`–`Z` and
    /// `0`–`9` replaced by `_`, leading `_` and digits removed (journald reserves `_` for trusted
    /// fields and names cannot start with a digit), at most 64 characters.
    ///
    /// `task.key` becomes `TASK_KEY` and `peer.address` becomes `PEER_ADDRESS`.
    ///
    /// - Parameter key: A metadata key.
    /// - Returns: The field name, or nil when nothing usable is left (`"_"`, `"42"`, `""`).
    public static func name(forMetadataKey key: String) -> String? {
        var name = String.UnicodeScalarView()
        for scalar in key.unicodeScalars {
            switch scalar.value {
            case 0x61...0x7A: name.append(Unicode.Scalar(scalar.value - 0x20)!)  // a-z
            case 0x41...0x5A, 0x30...0x39: name.append(scalar)
            default: name.append("_")
            }
        }
        let trimmed = String(name).drop { $0 == "_" || $0.isASCII && $0.isNumber }
        return trimmed.isEmpty ? nil : String(trimmed.prefix(maximumNameLength))
    }

    /// The syslog priority (`PRIORITY=`) for a swift-log level: critical 2, error 3, warning 4,
    /// notice 5, info 6, debug and trace 7.
    ///
    /// - Parameter level: A swift-log level.
    /// - Returns: The syslog priority, from 2 (`crit`) to 7 (`debug`).
    public static func priority(for level: Logger.Level) -> Int {
        switch level {
        case .critical: 2
        case .error: 3
        case .warning: 4
        case .notice: 5
        case .info: 6
        case .debug, .trace: 7
        }
    }
}
