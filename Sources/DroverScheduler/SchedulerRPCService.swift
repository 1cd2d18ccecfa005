import DroverCore
public import DroverProto
public import GRPCCore
import GRPCProtobuf
import Logging
import SwiftProtobuf

/// The gRPC face of ``SchedulerService``: each stream becomes calls on the actor; each connection's
/// outgoing batches come from a `BatchingQueue` the actor feeds. A wire stream's reader runs on the
/// actor's event loop and enters it without a hop (``SchedulerService/withIsolation(_:)``).
///
/// Every message is size-checked before it is decoded (``LimitedDeserializer``): an oversize one
/// is refused with `resourceExhausted` naming the limit, and logged.
public struct SchedulerRPCService: Drover_V1_Scheduler.SimpleServiceProtocol {
    let service: SchedulerService
    /// The address the scheduler reports for itself.
    let address: @Sendable () -> String
    /// The largest message accepted.
    let maxMessageBytes: Int

    public init(
        service: SchedulerService, maxMessageBytes: Int = TransportLimits.maxMessageBytes,
        address: @escaping @Sendable () -> String
    ) {
        self.service = service
        self.address = address
        self.maxMessageBytes = maxMessageBytes
    }

    /// Registers the methods with size-checking deserializers (the generated registration uses
    /// plain ones).
    public func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        let limit = maxMessageBytes
        router.registerHandler(
            forMethod: Drover_V1_Scheduler.Method.WorkerStream.descriptor,
            deserializer: LimitedDeserializer<Drover_V1_WorkerEvents>(maxBytes: limit),
            serializer: ProtobufSerializer<Drover_V1_WorkerCommands>(),
            handler: { request, context in try await self.workerStream(request: request, context: context) }
        )
        router.registerHandler(
            forMethod: Drover_V1_Scheduler.Method.ClientStream.descriptor,
            deserializer: LimitedDeserializer<Drover_V1_ClientEvents>(maxBytes: limit),
            serializer: ProtobufSerializer<Drover_V1_ClientUpdates>(),
            handler: { request, context in try await self.clientStream(request: request, context: context) }
        )
        router.registerHandler(
            forMethod: Drover_V1_Scheduler.Method.Identity.descriptor,
            deserializer: LimitedDeserializer<Drover_V1_IdentityRequest>(maxBytes: limit),
            serializer: ProtobufSerializer<Drover_V1_IdentityResponse>(),
            handler: { request, context in try await self.identity(request: request, context: context) }
        )
        router.registerHandler(
            forMethod: Drover_V1_Scheduler.Method.ReportWorkerExit.descriptor,
            deserializer: LimitedDeserializer<Drover_V1_WorkerExitReport>(maxBytes: limit),
            serializer: ProtobufSerializer<Drover_V1_WorkerExitAck>(),
            handler: { request, context in try await self.reportWorkerExit(request: request, context: context) }
        )
    }

    public func workerStream(
        request: RPCAsyncSequence<Drover_V1_WorkerEvents, any Error>,
        response: RPCWriter<Drover_V1_WorkerCommands>,
        context: ServerContext
    ) async throws {
        try await workerStream(request: request, output: StreamOutput(response), context: context)
    }

    /// A worker's stream, over gRPC or the wire (where ``StreamOutput`` writes on the event loop).
    public func workerStream(
        request: RPCAsyncSequence<Drover_V1_WorkerEvents, any Error>,
        output: StreamOutput<Drover_V1_WorkerCommands>,
        context: ServerContext
    ) async throws {
        let outbox = BatchingQueue<Drover_V1_WorkerCommand>()
        let service = self.service
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await output.forward(outbox) { batch in
                    batch.batches(size: \.estimatedBytes).map { part in .with { $0.commands = Array(part) } }
                }
                // The scheduler ended this connection: say why, so the worker registers afresh.
                if let reason = await service.removalReason(of: outbox) {
                    throw RPCError(
                        code: .unavailable,
                        message: "The scheduler removed this worker: \(reason). Connect and register again.")
                }
            }
            group.addTask {
                var worker: WorkerID?
                var cause = "its connection closed"
                defer { outbox.finish() }
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
                            let peer = context.remotePeer
                            worker = try await service.withIsolation {
                                try $0.workerConnected(registration, outbox: outbox, peer: peer)
                            }
                            events = events.dropFirst()
                        }
                        // A connection the scheduler has ended (the worker was removed, or
                        // registered again elsewhere) is not listened to any more.
                        if !events.isEmpty {
                            let events = Array(events)
                            let worker = worker!
                            guard await service.withIsolation({ $0.workerSent(events, from: worker, outbox: outbox) })
                            else { break }
                        }
                    }
                } catch let error as RPCError {
                    await service.streamFailed(error, kind: "worker", peer: context.remotePeer)
                    cause = "its connection failed: \(error.message)"
                    if worker == nil || error.code == .resourceExhausted { throw error }
                } catch {
                    await service.streamFailed(error, kind: "worker", peer: context.remotePeer)
                    cause = "its connection failed: \(error)"
                }
                if let worker { await service.workerDisconnected(worker, outbox: outbox, cause: cause) }
            }
            // The first error (a refusal, or the scheduler ending the connection) is the call's
            // status, and ends the other side.
            defer { group.cancelAll() }
            for try await _ in group {}
        }
    }

    public func clientStream(
        request: RPCAsyncSequence<Drover_V1_ClientEvents, any Error>,
        response: RPCWriter<Drover_V1_ClientUpdates>,
        context: ServerContext
    ) async throws {
        try await clientStream(
            request: request, output: StreamOutput(response, guarded: clientGuard), context: context)
    }

    /// A client's stream, over gRPC or the wire (where ``StreamOutput`` writes on the event loop).
    public func clientStream(
        request: RPCAsyncSequence<Drover_V1_ClientEvents, any Error>,
        output: StreamOutput<Drover_V1_ClientUpdates>,
        context: ServerContext
    ) async throws {
        let outbox = BatchingQueue<Drover_V1_ClientUpdate>()
        let service = self.service
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await output.forward(
                    outbox, as: { batch in batch.batches().map { part in .with { $0.updates = Array(part) } } },
                    weight: \.estimatedBytes)
            }
            group.addTask {
                var client: ClientID?
                defer { outbox.finish() }
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
                            let id = ClientID(registration.id)
                            try await service.withIsolation { try $0.clientConnected(id, outbox: outbox) }
                            client = id
                            events = events.dropFirst()
                        }
                        if !events.isEmpty {
                            let events = Array(events)
                            let client = client!
                            await service.withIsolation { $0.clientSent(events, from: client) }
                            await service.yieldToWrites()
                        }
                    }
                } catch let error as RPCError {
                    await service.streamFailed(error, kind: "client", peer: context.remotePeer)
                    if let client { await service.clientDisconnected(client, outbox: outbox) }
                    // A client that goes away mid-stream is a disconnect; a refusal is its answer.
                    if client == nil || error.code == .resourceExhausted { throw error }
                    return
                } catch {
                    // A client that goes away mid-stream (or is cut off for not reading: the
                    // writer's error ends the reading) is a disconnect, not an error; noted all the same.
                    await service.streamFailed(error, kind: "client", peer: context.remotePeer)
                }
                if let client { await service.clientDisconnected(client, outbox: outbox) }
            }
            // The first error (a refusal, or the writer cutting off a client that stopped reading)
            // is the call's status, and ends the other side.
            defer { group.cancelAll() }
            for try await _ in group {}
        }
    }

    /// What a client's gRPC stream may leave unread (``UnsentGuard``), as over the wire. Workers are
    /// not guarded: they are the cluster's own, a hung one is removed after its TTL, and a burst
    /// of inline arguments for one is not a sign that it stopped reading.
    private var clientGuard: UnsentGuard {
        .init(limit: UnsentGuard.limit(maxMessageBytes: maxMessageBytes), peer: "client", logger: service.logger)
    }

    public func reportWorkerExit(request: Drover_V1_WorkerExitReport, context: ServerContext) async throws
        -> Drover_V1_WorkerExitAck
    {
        guard await service.workerExited(request, peer: context.remotePeer) else {
            throw RPCError(
                code: .permissionDenied,
                message: "Refused the exit report for worker '\(request.workerID)': it did not register under "
                    + "the nanny '\(request.nanny)'. Only the nanny that started a worker may report its exit."
            )
        }
        return .init()
    }

    public func identity(request: Drover_V1_IdentityRequest, context: ServerContext) async throws
        -> Drover_V1_IdentityResponse
    {
        await service.identity(address: address())
    }
}
