import DroverSystemd
import Foundation
import Glibc
import Logging
import Testing

@Suite struct JournalLogHandlerTests {
    @Test func eventBecomesFields() {
        var handler = JournalLogHandler(label: "drover.scheduler", component: .scheduler, metadataProvider: nil)
        handler[metadataKey: "worker.id"] = "overridden"
        handler[metadataKey: "host"] = "h1"
        let event = LogEvent(
            level: .warning, message: "task erred",
            metadata: ["task.key": "inc-3", "worker.id": "w-1", "message": "shadowed", "_": "dropped"],
            source: nil, file: "DroverScheduler/SchedulerService.swift", function: "workerSent(_:from:)", line: 76)
        #expect(
            handler.fields(for: event) == [
                "MESSAGE=task erred", "PRIORITY=4", "SYSLOG_IDENTIFIER=drover", "DROVER_COMPONENT=scheduler",
                "CODE_FILE=DroverScheduler/SchedulerService.swift", "CODE_LINE=76", "CODE_FUNC=workerSent(_:from:)",
                "LOGGER_LABEL=drover.scheduler", "HOST=h1", "META_MESSAGE=shadowed", "TASK_KEY=inc-3", "WORKER_ID=w-1",
            ])
    }

    @Test func providedMetadataAndErrorsAreFields() {
        struct Failure: Error, CustomStringConvertible { var description: String { "disk full" } }
        let provider = Logger.MetadataProvider { ["stimulus.id": "s-9"] }
        let handler = JournalLogHandler(label: "drover.worker", component: .worker, metadataProvider: provider)
        let event = LogEvent(
            level: .error, message: "spill failed", error: Failure(), metadata: nil, source: nil, file: "f.swift",
            function: "f()", line: 1)
        let fields = handler.fields(for: event)
        #expect(fields.contains("ERROR=disk full"))
        #expect(fields.contains("STIMULUS_ID=s-9"))
        #expect(fields.contains("DROVER_COMPONENT=worker"))
        #expect(fields.contains("PRIORITY=3"))
    }

    /// libsystemd drops the entry silently when no journald listens (no socket), so this holds in
    /// and out of systemd; what it proves is that the iovecs are well formed and nothing crashes.
    @Test func sendingSucceedsWithOrWithoutJournald() {
        let fields = ["MESSAGE=drover journal test\nsecond line", "PRIORITY=7", "SYSLOG_IDENTIFIER=drover-test"]
        #expect(JournalLogHandler.send(fields) == 0)
        #expect(JournalLogHandler.send([]) == -EINVAL)
    }

    @Test func destinationPicksTheHandler() {
        #expect(DroverLogging.makeHandler(label: "l", component: .nanny, for: .journal) is JournalLogHandler)
        #expect(DroverLogging.makeHandler(label: "l", component: .nanny, for: .standardError) is StreamLogHandler)
    }
}
