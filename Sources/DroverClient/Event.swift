import DroverCore
import DroverProto
import SwiftProtobuf

/// A named flag the scheduler holds for every client, like Dask's `distributed.Event`: one client
/// sets it, others wait for it.
///
/// ```swift
/// let ready = Event("ready", client: client)
/// ready.set()
/// try await ready.wait()
/// ```
public struct Event: Sendable {
    /// The name shared by every client.
    public let name: String
    let client: Client

    /// A handle on the event `name` of `client`'s cluster (nothing is sent until it is used).
    public init(_ name: String, client: Client) {
        self.name = name
        self.client = client
    }

    /// Sets the event: every waiting `wait()` returns, and later ones return at once.
    public func set() {
        client.send(
            .with {
                $0.eventUpdate = .with {
                    $0.name = name
                    $0.set = true
                }
            })
    }

    /// Clears the event: later `wait()`s wait for the next `set()`.
    public func clear() {
        client.send(
            .with {
                $0.eventUpdate = .with {
                    $0.name = name
                    $0.set = false
                }
            })
    }

    /// Waits until the event is set.
    ///
    /// - Parameter timeout: How long to wait (Dask's `timeout=`); `nil` waits for ever. The
    ///   scheduler checks timeouts on its clock tick (every 250 ms).
    /// - Throws: ``ClientError`` when the client closes first, or of code
    ///   ``ClientError/Code/timedOut`` when `timeout` passes first; `CancellationError` when the
    ///   calling task is cancelled.
    public func wait(timeout: Duration? = nil) async throws {
        _ = try await ask(immediate: false, timeout: timeout)
    }

    /// Whether the event is set now (Dask's `is_set`).
    ///
    /// - Throws: ``ClientError`` when the client closes first.
    public func isSet() async throws -> Bool {
        try await ask(immediate: true)
    }

    private func ask(immediate: Bool, timeout: Duration? = nil) async throws -> Bool {
        let payload = try await client.variableRequests.ask(client, timeout: timeout, what: "Event '\(name)'.wait") {
            request in
            .with {
                $0.eventWait = .with {
                    $0.name = name
                    $0.request = request
                    $0.immediate = immediate
                    $0.timeoutSeconds = WaitTimeout.seconds(timeout)
                }
            }
        }
        return try Bool.decode(payload: payload)
    }
}
