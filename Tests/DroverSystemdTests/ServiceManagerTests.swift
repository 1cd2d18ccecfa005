import DroverSystemd
import Glibc
import Logging
import Testing

/// Everything here reads or changes the process's environment, so it runs one test at a time.
@Suite(.serialized, .timeLimit(.minutes(1)))
struct ServiceManagerTests {
    // MARK: - Notify

    @Test func notifySendsEachAssignmentAsADatagram() async throws {
        let socket = try NotifySocket()
        try await withEnvironment(["NOTIFY_SOCKET": socket.path]) {
            #expect(ServiceManager.isNotifying)
            #expect(try ServiceManager.notify(.ready))
            #expect(socket.receive() == "READY=1")
            try ServiceManager.notify(.status("4 workers (8 threads), 1,203 tasks processing, 2 clients"))
            #expect(socket.receive() == "STATUS=4 workers (8 threads), 1,203 tasks processing, 2 clients")
            try ServiceManager.notify(.stopping)
            #expect(socket.receive() == "STOPPING=1")
            try ServiceManager.notify(.watchdog)
            #expect(socket.receive() == "WATCHDOG=1")
            try ServiceManager.notify(.status("two\nlines"), .watchdog)
            #expect(socket.receive() == "STATUS=two lines\nWATCHDOG=1")
        }
    }

    @Test func notifyWithoutNotifySocketSendsNothing() async throws {
        let socket = try NotifySocket()
        try await withEnvironment(["NOTIFY_SOCKET": nil]) { () throws in
            #expect(!ServiceManager.isNotifying)
            #expect(try ServiceManager.notify(.ready) == false)
            ServiceManager.notify(.stopping, logger: Logger(label: "test"))
        }
        #expect(!socket.hasPending())
    }

    @Test func notifyToAMissingSocketThrows() async throws {
        let socket = try NotifySocket()
        try await withEnvironment(["NOTIFY_SOCKET": socket.path + ".missing"]) {
            #expect {
                try ServiceManager.notify(.ready)
            } throws: { error in
                (error as? SystemdError)?.code == .notifyFailed
            }
        }
    }

    // MARK: - Watchdog

    @Test func watchdogPingsAtHalfItsTimeout() async throws {
        try await withEnvironment(["WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "\(getpid())"]) {
            #expect(ServiceManager.watchdogInterval() == .seconds(2))
        }
        try await withEnvironment(["WATCHDOG_USEC": "3000000", "WATCHDOG_PID": nil]) {
            #expect(ServiceManager.watchdogInterval() == .milliseconds(1500))
        }
    }

    @Test func watchdogOfAnotherProcessIsOff() async throws {
        try await withEnvironment(["WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "1"]) {
            #expect(ServiceManager.watchdogInterval() == nil)
        }
    }

    @Test func watchdogIsOffWithoutItsVariable() async throws {
        try await withEnvironment(["WATCHDOG_USEC": nil, "WATCHDOG_PID": nil]) {
            #expect(ServiceManager.watchdogInterval() == nil)
        }
    }

    // MARK: - Socket activation

    @Test func socketsPassedToAnotherProcessAreNotTakenAndTheirVariablesGo() async throws {
        try await withEnvironment(["LISTEN_PID": "1", "LISTEN_FDS": "1"]) { () throws in
            #expect(try ServiceManager.listeningSocket() == nil)
            #expect(getenv("LISTEN_PID") == nil)
            #expect(getenv("LISTEN_FDS") == nil)
        }
    }

    @Test func noSocketWithoutListenFDs() async throws {
        try await withEnvironment(["LISTEN_PID": nil, "LISTEN_FDS": nil]) { () throws in
            #expect(try ServiceManager.listeningSocket() == nil)
        }
    }

    // MARK: - Status reporter

    @Test func reporterSendsStatusWithWatchdogPing() async throws {
        let socket = try NotifySocket()
        try await withEnvironment(["NOTIFY_SOCKET": socket.path]) {
            let reporter = StatusReporter(interval: .seconds(1), watchdog: .seconds(30), logger: Logger(label: "test"))
            {
                "3 workers (3 threads), 0 tasks processing, 1 client"
            }
            #expect(reporter.period == .seconds(1))
            let running = Task { await reporter.run() }
            defer { running.cancel() }
            #expect(socket.receive() == "STATUS=3 workers (3 threads), 0 tasks processing, 1 client\nWATCHDOG=1")
            running.cancel()
            await running.value
        }
    }

    @Test func reporterWithoutWatchdogSendsOnlyStatus() async throws {
        let socket = try NotifySocket()
        try await withEnvironment(["NOTIFY_SOCKET": socket.path]) {
            let reporter = StatusReporter(watchdog: nil, logger: Logger(label: "test")) { "starting" }
            let running = Task { await reporter.run() }
            defer { running.cancel() }
            #expect(socket.receive() == "STATUS=starting")
        }
    }

    @Test func reporterReturnsAtOnceWithoutAServiceManager() async throws {
        try await withEnvironment(["NOTIFY_SOCKET": nil]) {
            let reporter = StatusReporter(watchdog: .seconds(1), logger: Logger(label: "test")) {
                Issue.record("asked for a status with no one to tell")
                return ""
            }
            await reporter.run()
        }
    }

    @Test func reporterPingsAtTheWatchdogIntervalWhenShorter() {
        let reporter = StatusReporter(interval: .seconds(1), watchdog: .milliseconds(250), logger: Logger(label: "t")) {
            ""
        }
        #expect(reporter.period == .milliseconds(250))
    }
}
