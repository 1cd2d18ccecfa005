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
    /// - Throws: ``ClientError`` when the client closes first; `CancellationError` when the
    ///   calling task is cancelled (a value the scheduler sent meanwhile is lost);
    ///   `PayloadError` when the value is of another type.
    public func get() async throws -> Value {
        let payload = try await client.variableRequests.ask(client) { request in
            .with {
                $0.queueGet = .with {
                    $0.name = name
                    $0.request = request
                }
            }
        }
        return try Value.decode(payload: payload)
    }
}
