import DroverProto
import SwiftProtobuf

/// A named semaphore the scheduler holds for every client, like Dask's `distributed.Semaphore`:
/// at most `maxLeases` leases are held at once, across clients; `acquire()` waits for one.
///
/// A client that disconnects gives its leases back (Dask lets leases time out instead).
///
/// ```swift
/// let database = Semaphore("database", maxLeases: 2, client: client)
/// try await database.acquire()
/// defer { database.release() }
/// ```
public struct Semaphore: Sendable {
    /// The name shared by every client.
    public let name: String
    /// How many leases there are; the first acquire of the name on the cluster sets it.
    public let maxLeases: Int
    let client: Client

    /// A handle on the semaphore `name` of `client`'s cluster (nothing is sent until it is used).
    public init(_ name: String, maxLeases: Int = 1, client: Client) {
        self.name = name
        self.maxLeases = maxLeases
        self.client = client
    }

    /// Waits until this client holds a lease.
    ///
    /// - Parameter timeout: How long to wait (Dask's `timeout=`); `nil` waits for ever. The
    ///   scheduler checks timeouts on its clock tick (every 250 ms).
    /// - Throws: ``ClientError`` when the client closes first, or of code
    ///   ``ClientError/Code/timedOut`` when `timeout` passes first (the scheduler then dropped the
    ///   request: no lease is granted for it later); `CancellationError` when the calling task is
    ///   cancelled (a lease granted meanwhile stays held until the client closes).
    public func acquire(timeout: Duration? = nil) async throws {
        _ = try await client.variableRequests.ask(client, timeout: timeout, what: "Semaphore '\(name)'.acquire") {
            request in
            .with {
                $0.semaphoreAcquire = .with {
                    $0.name = name
                    $0.request = request
                    $0.maxLeases = Int32(clamping: maxLeases)
                    $0.timeoutSeconds = WaitTimeout.seconds(timeout)
                }
            }
        }
    }

    /// Gives back one lease this client holds; the oldest waiting acquire gets it.
    public func release() {
        client.send(.with { $0.semaphoreRelease = .with { $0.name = name } })
    }
}

/// A named lock the scheduler holds for every client, like Dask's `distributed.Lock`: a
/// ``Semaphore`` with one lease.
public struct Lock: Sendable {
    let semaphore: Semaphore

    /// A handle on the lock `name` of `client`'s cluster.
    public init(_ name: String, client: Client) {
        semaphore = Semaphore(name, maxLeases: 1, client: client)
    }

    /// Waits until this client holds the lock.
    ///
    /// - Parameter timeout: As for ``Semaphore/acquire(timeout:)``.
    /// - Throws: As ``Semaphore/acquire(timeout:)``.
    public func acquire(timeout: Duration? = nil) async throws {
        try await semaphore.acquire(timeout: timeout)
    }

    /// Releases the lock; the oldest waiting acquire gets it.
    public func release() {
        semaphore.release()
    }
}
