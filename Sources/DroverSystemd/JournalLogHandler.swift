import CSystemd
import Glibc
public import Logging

/// A swift-log handler that writes each message to the systemd journal with `sd_journal_sendv`,
/// as fields: `MESSAGE`, `PRIORITY`, `SYSLOG_IDENTIFIER=drover`, `DROVER_COMPONENT`, `CODE_FILE`,
/// `CODE_LINE`, `CODE_FUNC`, `LOGGER_LABEL`, `ERROR` (when the event carries one) and one field
/// per metadata key (named by ``JournalField/name(forMetadataKey:)``), so
/// `journalctl TASK_KEY=x-12` finds a task's lines.
///
/// A metadata key whose field would replace one of the handler's own fields gets a `META_`
/// prefix (`message` becomes `META_MESSAGE`). When the journal cannot be reached the message is lost.
public struct JournalLogHandler: LogHandler {
    /// The `SYSLOG_IDENTIFIER` of every message.
    public static let identifier = "drover"

    /// The least severe level logged.
    public var logLevel: Logger.Level = .info
    /// Metadata sent with every message of this logger.
    public var metadata: Logger.Metadata = [:]
    /// Adds metadata to every message (for example from the task-local context).
    public var metadataProvider: Logger.MetadataProvider?
    /// The logger's label, sent as `LOGGER_LABEL`.
    public let label: String
    /// The process's role, sent as `DROVER_COMPONENT`.
    public let component: DroverLogging.Component

    private static let ownFields: Set<String> = [
        "MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "DROVER_COMPONENT", "CODE_FILE", "CODE_LINE", "CODE_FUNC",
        "LOGGER_LABEL", "ERROR",
    ]

    /// Creates a handler for the logger labelled `label`.
    ///
    /// - Parameters:
    ///   - label: The logger's label.
    ///   - component: The process's role.
    ///   - metadataProvider: Adds metadata to every message (default: the logging system's).
    public init(
        label: String, component: DroverLogging.Component,
        metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider
    ) {
        self.label = label
        self.component = component
        self.metadataProvider = metadataProvider
    }

    /// One entry of ``metadata``.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Sends `event` to the journal (see ``fields(for:)``).
    public func log(event: LogEvent) {
        Self.send(fields(for: event))
    }

    /// The journal entry for `event`: `NAME=value` strings, the handler's own fields first and
    /// then metadata sorted by field name.
    ///
    /// - Parameter event: What was logged.
    /// - Returns: The fields `sd_journal_sendv` gets.
    public func fields(for event: LogEvent) -> [String] {
        var fields = [
            "MESSAGE=\(event.message)", "PRIORITY=\(JournalField.priority(for: event.level))",
            "SYSLOG_IDENTIFIER=\(Self.identifier)", "DROVER_COMPONENT=\(component.rawValue)",
            "CODE_FILE=\(event.file)", "CODE_LINE=\(event.line)", "CODE_FUNC=\(event.function)",
            "LOGGER_LABEL=\(label)",
        ]
        if let error = event.error { fields.append("ERROR=\(error)") }
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let given = event.metadata { merged.merge(given) { _, new in new } }
        var named: [(name: String, value: String)] = []
        for (key, value) in merged {
            guard var name = JournalField.name(forMetadataKey: key) else { continue }
            if Self.ownFields.contains(name) { name = String(("META_" + name).prefix(JournalField.maximumNameLength)) }
            named.append((name, "\(value)"))
        }
        named.sort { ($0.name, $0.value) < ($1.name, $1.value) }
        fields.append(contentsOf: named.map { "\($0.name)=\($0.value)" })
        return fields
    }

    /// Sends one journal entry made of `fields` (`NAME=value`, values may hold line breaks).
    ///
    /// - Parameter fields: The entry's fields.
    /// - Returns: 0 on success, or a negative `errno` value (for example when no journald listens).
    @discardableResult
    public static func send(_ fields: [String]) -> Int32 {
        var bytes: [UInt8] = []
        var spans: [(start: Int, count: Int)] = []
        spans.reserveCapacity(fields.count)
        for field in fields {
            spans.append((bytes.count, field.utf8.count))
            bytes.append(contentsOf: field.utf8)
        }
        guard !bytes.isEmpty else { return -EINVAL }
        return bytes.withUnsafeMutableBytes { buffer in
            var vectors = spans.map { iovec(iov_base: buffer.baseAddress! + $0.start, iov_len: $0.count) }
            return sd_journal_sendv(&vectors, Int32(vectors.count))
        }
    }
}
