import DroverCore
public import DroverProto
public import GRPCCore
import SwiftProtobuf

/// The gRPC face of ``SchedulerService``: each stream becomes calls on the actor; each connection's
/// outgoing batches come from a `BatchingQueue` the actor feeds.
public struct SchedulerRPCService: Drover_V1_Scheduler.SimpleServiceProtocol {
    let service: SchedulerService
    /// The address the scheduler reports for itself.
    let address: @Sendable () -> String

    public init(service: SchedulerService, address: @escaping @Sendable () -> String) {
        self.service = service
        self.address = address
    }

    public func workerStream(
        request: RPCAsyncSequence<Drover_V1_WorkerEvents, any Error>,
        response: RPCWriter<Drover_V1_WorkerCommands>,
        context: ServerContext
    ) async throws {
        let outbox = BatchingQueue<Drover_V1_WorkerCommand>()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await batch in outbox {
                    for part in batch.batches(size: \.estimatedBytes) {
                        try await response.write(.with { $0.commands = Array(part) })
                    }
                }
            }
            var worker: WorkerID?
            var cause = "its connection closed"
            do {
                for try await batch in request {
                    var events = batch.events[...]
                    if worker == nil {
                        guard case .register(let registration) = events.first?.kind else {
                            throw RPCError(
                                code: .failedPrecondition,
                                message: "The first message on a worker stream must register the worker."
                            )
                        }
                        worker = await service.workerConnected(registration, outbox: outbox)
                        events = events.dropFirst()
                    }
                    if !events.isEmpty { await service.workerSent(Array(events), from: worker!) }
                }
            } catch let error as RPCError {
                cause = "its connection failed: \(error.message)"
                if worker == nil {
                    outbox.finish()
                    throw error
                }
            } catch {
                cause = "its connection failed: \(error)"
            }
            if let worker { await service.workerDisconnected(worker, outbox: outbox, cause: cause) }
            outbox.finish()
            group.cancelAll()
        }
    }

    public func clientStream(
        request: RPCAsyncSequence<Drover_V1_ClientEvents, any Error>,
        response: RPCWriter<Drover_V1_ClientUpdates>,
        context: ServerContext
    ) async throws {
        let outbox = BatchingQueue<Drover_V1_ClientUpdate>()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await batch in outbox {
                    for part in batch.batches() { try await response.write(.with { $0.updates = Array(part) }) }
                }
            }
            var client: ClientID?
            do {
                for try await batch in request {
                    var events = batch.events[...]
                    if client == nil {
                        guard case .register(let registration) = events.first?.kind else {
                            throw RPCError(
                                code: .failedPrecondition,
                                message: "The first message on a client stream must register the client."
                            )
                        }
                        client = ClientID(registration.id)
                        await service.clientConnected(client!, outbox: outbox)
                        events = events.dropFirst()
                    }
                    if !events.isEmpty { await service.clientSent(Array(events), from: client!) }
                }
            } catch let error as RPCError where client == nil {
                outbox.finish()
                throw error
            } catch {
                // A client that goes away mid-stream is a disconnect, not an error.
            }
            if let client { await service.clientDisconnected(client, outbox: outbox) }
            outbox.finish()
            group.cancelAll()
        }
    }

    public func reportWorkerExit(request: Drover_V1_WorkerExitReport, context: ServerContext) async throws
        -> Drover_V1_WorkerExitAck
    {
        await service.workerExited(request)
        return .init()
    }

    public func identity(request: Drover_V1_IdentityRequest, context: ServerContext) async throws
        -> Drover_V1_IdentityResponse
    {
        await service.identity(address: address())
    }
}
