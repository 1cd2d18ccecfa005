public import DroverCore
import DroverProto
import SwiftProtobuf
import Synchronization

/// A named value the scheduler holds for every client, like Dask's `distributed.Variable`: one
/// client sets it, any client gets it (waiting until it is set). The last value set wins.
///
/// Values travel inline through the scheduler: keep them small (a flag, a count, a key), and
/// scatter a large value instead.
///
/// ```swift
/// let stop = Variable<Bool>("stop", client: client)
/// stop.set(true)
/// if try await stop.get() { … }
/// ```
public struct Variable<Value: TaskValue>: Sendable {
    /// The name shared by every client.
    public let name: String
    let client: Client

    /// A handle on the variable `name` of `client`'s cluster (nothing is sent until it is used).
    public init(_ name: String, client: Client) {
        self.name = name
        self.client = client
    }

    /// Sets the value for every client; waiting `get()`s receive it.
    ///
    /// - Throws: What encoding the value throws.
    public func set(_ value: Value) throws {
        let payload = try value.encodePayload()
        client.send(
            .with {
                $0.setVariable = .with {
                    $0.name = name
                    $0.value = payload.proto
                }
            })
    }

    /// The value, once some client has set it.
    ///
    /// - Parameter timeout: How long to wait for a value to be set (Dask's `timeout=`); `nil`
    ///   waits for ever. The scheduler checks timeouts on its clock tick (every 250 ms).
    /// - Throws: ``ClientError`` when the client closes first, or of code ``ClientError/Code/timedOut``
    ///   when `timeout` passes first; `CancellationError` when the calling task is cancelled;
    ///   `PayloadError` when the value set is of another type.
    public func get(timeout: Duration? = nil) async throws -> Value {
        let payload = try await client.variableRequests.ask(
            client, timeout: timeout, what: "Variable '\(name)'.get"
        ) { request in
            .with {
                $0.getVariable = .with {
                    $0.name = name
                    $0.request = request
                    $0.timeoutSeconds = WaitTimeout.seconds(timeout)
                }
            }
        }
        return try Value.decode(payload: payload)
    }

    /// Forgets the value for every client (Dask's `Variable.delete`): a later ``get(timeout:)``
    /// waits until the variable is set again.
    public func delete() {
        client.send(.with { $0.deleteVariable = .with { $0.name = name } })
    }
}

/// The `Variable.get` calls of one client waiting for the scheduler's answer, by request number.
final class VariableRequests: Sendable {
    private struct State {
        var next: UInt64 = 1
        var waiting: [UInt64: CheckedContinuation<Payload, any Error>] = [:]
        var failure: (any Error)?
        /// Requests cancelled before they began to wait.
        var cancelled: Set<UInt64> = []
    }
    private let state = Mutex(State())

    /// Sends the event `make` builds for a fresh request number and waits for its answer.
    /// Sends the event `make` builds for a fresh request number and waits for its answer.
    ///
    /// - Parameters:
    ///   - timeout: The timeout the event carries, for the error's message.
    ///   - what: The call, for the error's message ("Queue 'q'.get").
    /// - Throws: ``ClientError`` (``ClientError/Code/timedOut`` when the scheduler says the
    ///   request's timeout passed), or `CancellationError`.
    func ask(
        _ client: Client, timeout: Duration? = nil, what: String = "the request",
        _ make: (UInt64) -> Drover_V1_ClientEvent
    ) async throws -> Payload {
        let request = next()
        let event = make(request)
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { continuation in
                    wait(request, continuation)
                    client.send(event)
                }
            } onCancel: {
                cancel(request)
            }
        } catch is TimedOut {
            let limit = timeout.map { "\($0.inSeconds) s" } ?? "its timeout"
            throw ClientError(code: .timedOut, message: "\(what) timed out after \(limit).")
        }
    }

    /// The scheduler's answer to a request whose timeout passed first.
    private struct TimedOut: Error {}

    func next() -> UInt64 {
        state.withLock { state in
            defer { state.next += 1 }
            return state.next
        }
    }

    /// Waits for `request`'s answer (fails at once when the client has closed).
    func wait(_ request: UInt64, _ continuation: CheckedContinuation<Payload, any Error>) {
        let failure: (any Error)? = state.withLock { state in
            if let failure = state.failure { return failure }
            if state.cancelled.remove(request) != nil { return CancellationError() }
            state.waiting[request] = continuation
            return nil
        }
        if let failure { continuation.resume(throwing: failure) }
    }

    func answer(_ request: UInt64, with payload: Payload) {
        state.withLock { $0.waiting.removeValue(forKey: request) }?.resume(returning: payload)
    }

    /// The scheduler gave up on the request (its timeout passed) and dropped it.
    func timeOut(_ request: UInt64) {
        state.withLock { $0.waiting.removeValue(forKey: request) }?.resume(throwing: TimedOut())
    }

    /// The caller gave up (cancelled), whether or not its request waits yet.
    func cancel(_ request: UInt64) {
        let waiting = state.withLock { state in
            let waiting = state.waiting.removeValue(forKey: request)
            if waiting == nil { state.cancelled.insert(request) }
            return waiting
        }
        waiting?.resume(throwing: CancellationError())
    }

    /// The client closed: every waiting request fails, and so will later ones.
    func failAll(_ error: any Error) {
        let waiting = state.withLock { state in
            state.failure = error
            defer { state.waiting = [:] }
            return Array(state.waiting.values)
        }
        for continuation in waiting { continuation.resume(throwing: error) }
    }
}
