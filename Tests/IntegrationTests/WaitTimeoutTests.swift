import DroverClient
import DroverCore
import DroverTestKit
import Testing

/// Dask's `timeout=` on `Variable.get`, `Queue.get`, `Lock`/`Semaphore.acquire` and `Event.wait`,
/// `Queue.qsize` and `Variable.delete`, against a real scheduler process: a timed-out request
/// throws `ClientError.Code.timedOut` and takes nothing later.
@Suite(.timeLimit(.minutes(1))) struct WaitTimeoutTests {
    static func expectTimeout(
        _ what: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void
    ) async {
        do {
            try await body()
            Issue.record("\(what) returned; expected a timeout", sourceLocation: sourceLocation)
        } catch let error as ClientError {
            #expect(error.code == .timedOut, "\(error)", sourceLocation: sourceLocation)
            #expect(error.message.hasPrefix(what + " timed out after"), "\(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("\(what) threw \(error); expected a timeout", sourceLocation: sourceLocation)
        }
    }

    @Test func aQueueGetThatTimesOutTakesNoLaterValue() async throws {
        let cluster = try await LocalTestCluster(workers: 0)
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        let queue = Queue<Int>("jobs", client: client)
        #expect(try await queue.size() == 0)
        await Self.expectTimeout("Queue 'jobs'.get") { _ = try await queue.get(timeout: .milliseconds(300)) }
        try queue.put(7)
        try queue.put(8)
        // The request that timed out took neither value.
        #expect(try await queue.size() == 2)
        #expect(try await queue.get(timeout: .seconds(10)) == 7)
        #expect(try await queue.get() == 8)
        #expect(try await queue.size() == 0)
        await client.close()
    }

    @Test func aVariableGetTimesOutAndDeleteForgetsTheValue() async throws {
        let cluster = try await LocalTestCluster(workers: 0)
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        let other = try await Client.connect(cluster.address, setAsDefault: false)
        let variable = Variable<Int>("x", client: client)
        await Self.expectTimeout("Variable 'x'.get") { _ = try await variable.get(timeout: .milliseconds(300)) }
        try variable.set(5)
        #expect(try await variable.get(timeout: .seconds(10)) == 5)
        variable.delete()
        await Self.expectTimeout("Variable 'x'.get") { _ = try await variable.get(timeout: .milliseconds(300)) }
        let waiting = Task { try await variable.get(timeout: .seconds(30)) }
        try Variable<Int>("x", client: other).set(6)
        #expect(try await waiting.value == 6)
        await other.close()
        await client.close()
    }

    @Test func anAcquireThatTimesOutIsGrantedNoLease() async throws {
        let cluster = try await LocalTestCluster(workers: 0)
        defer { cluster.stop() }
        let holder = try await Client.connect(cluster.address, setAsDefault: false)
        let waiter = try await Client.connect(cluster.address, setAsDefault: false)
        try await Lock("db", client: holder).acquire(timeout: .seconds(10))
        await Self.expectTimeout("Semaphore 'db'.acquire") {
            try await Lock("db", client: waiter).acquire(timeout: .milliseconds(300))
        }
        Lock("db", client: holder).release()
        // Had the timed-out request been granted the lease, the waiter would now hold it and the
        // holder's next acquire would wait; instead the holder gets it back at once.
        try await Lock("db", client: holder).acquire(timeout: .seconds(10))
        await Self.expectTimeout("Semaphore 'db'.acquire") {
            try await Semaphore("db", client: waiter).acquire(timeout: .milliseconds(300))
        }
        Lock("db", client: holder).release()
        try await Lock("db", client: waiter).acquire(timeout: .seconds(10))
        await waiter.close()
        await holder.close()
    }

    @Test func anEventWaitTimesOutUntilTheEventIsSet() async throws {
        let cluster = try await LocalTestCluster(workers: 0)
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        let ready = Event("ready", client: client)
        await Self.expectTimeout("Event 'ready'.wait") { try await ready.wait(timeout: .milliseconds(300)) }
        ready.set()
        try await ready.wait(timeout: .seconds(10))
        #expect(try await ready.isSet())
        await client.close()
    }
}
