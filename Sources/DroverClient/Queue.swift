public import DroverCore
import DroverProto
import SwiftProtobuf

/// A named first-in-first-out queue the scheduler holds for every client, like Dask's
/// `distributed.Queue`: any client puts, any client gets (waiting until there is a value); each
/// value goes to one getter, oldest first.
///
/// Values travel inline through the scheduler: keep them small, and scatter large ones.
///
/// ```swift
/// let jobs = Queue<Int>("jobs", client: client)
/// try jobs.put(42)
/// let next = try await jobs.get()
/// ```
public struct Queue<Value: TaskValue>: Sendable {
    /// The name shared by every client.
    public let name: String
    let client: Client

    /// A handle on the queue `name` of `client`'s cluster (nothing is sent until it is used).
    public init(_ name: String, client: Client) {
        self.name = name
        self.client = client
    }

    /// Appends `value`; the oldest waiting `get()` of any client takes it.
    ///
    /// - Throws: What encoding the value throws.
    public func put(_ value: Value) throws {
        let payload = try value.encodePayload()
        client.send(
            .with {
                $0.queuePut = .with {
                    $0.name = name
                    $0.value = payload.proto
                }
            })
    }

    /// Takes the oldest value, waiting until there is one.
    ///
    /// - Parameter timeout: How long to wait (Dask's `timeout=`); `nil` waits for ever. The
    ///   scheduler checks timeouts on its clock tick (every 250 ms).
    /// - Throws: ``ClientError`` when the client closes first, or of code
    ///   ``ClientError/Code/timedOut`` when `timeout` passes first (the scheduler then dropped the
    ///   request: it takes no later value); `CancellationError` when the calling task is cancelled
    ///   (a value the scheduler sent meanwhile is lost); `PayloadError` when the value is of
    ///   another type.
    public func get(timeout: Duration? = nil) async throws -> Value {
        let payload = try await client.variableRequests.ask(client, timeout: timeout, what: "Queue '\(name)'.get") {
            request in
            .with {
                $0.queueGet = .with {
                    $0.name = name
                    $0.request = request
                    $0.timeoutSeconds = WaitTimeout.seconds(timeout)
                }
            }
        }
        return try Value.decode(payload: payload)
    }

    /// How many values the queue holds now (Dask's `Queue.qsize`).
    ///
    /// - Throws: ``ClientError`` when the client closes first.
    public func size() async throws -> Int {
        let payload = try await client.variableRequests.ask(client) { request in
            .with {
                $0.queueSize = .with {
                    $0.name = name
                    $0.request = request
                }
            }
        }
        return try Int.decode(payload: payload)
    }
}
