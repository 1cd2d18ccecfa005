public import Logging
import Synchronization

/// Where a Drover process's logs go: to the systemd journal with fields when standard error is
/// the journal stream (``JournalStream/isStandardError``), else to standard error as text.
///
/// Commands call ``bootstrap(component:)`` first thing, before making any `Logger`. Worker
/// processes a nanny starts inherit its standard error and `$JOURNAL_STREAM`, so under systemd they
/// log to the journal too, as `DROVER_COMPONENT=worker`.
public enum DroverLogging {
    /// A process's role, sent as `DROVER_COMPONENT`.
    public enum Component: String, Sendable, CaseIterable {
        case scheduler, worker, nanny, client
    }

    /// Where logs go.
    public enum Destination: Sendable, Hashable {
        /// The systemd journal, natively (``JournalLogHandler``).
        case journal
        /// Standard error, as text (swift-log's `StreamLogHandler`).
        case standardError
    }

    private static let installed = Mutex<Destination?>(nil)

    /// Installs the process's log handler (`LoggingSystem.bootstrap`) the first time it is called;
    /// later calls change nothing.
    ///
    /// - Parameter component: The process's role.
    /// - Returns: Where logs go.
    @discardableResult
    public static func bootstrap(component: Component) -> Destination {
        installed.withLock { installed in
            if let installed { return installed }
            let destination: Destination = JournalStream.isStandardError ? .journal : .standardError
            LoggingSystem.bootstrap { label in makeHandler(label: label, component: component, for: destination) }
            installed = destination
            return destination
        }
    }

    /// A log handler for the logger labelled `label` that writes to `destination`.
    ///
    /// - Parameters:
    ///   - label: The logger's label.
    ///   - component: The process's role.
    ///   - destination: Where the handler writes.
    /// - Returns: A ``JournalLogHandler`` or a `StreamLogHandler` on standard error.
    public static func makeHandler(label: String, component: Component, for destination: Destination)
        -> any LogHandler
    {
        switch destination {
        case .journal: JournalLogHandler(label: label, component: component)
        case .standardError: StreamLogHandler.standardError(label: label)
        }
    }
}
