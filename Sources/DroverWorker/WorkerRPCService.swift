import DroverCore
import DroverProto
import GRPCCore
import GRPCProtobuf
import Logging
import SwiftProtobuf

/// The gRPC face of a worker: its results for peers and clients. Messages over
/// ``TransportLimits/maxWorkerMessageBytes`` are refused with `resourceExhausted` naming the limit.
struct WorkerRPCService: Drover_V1_Worker.SimpleServiceProtocol {
    let runtime: WorkerRuntime

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        let limit = TransportLimits.maxWorkerMessageBytes
        router.registerHandler(
            forMethod: Drover_V1_Worker.Method.GetData.descriptor,
            deserializer: LimitedDeserializer<Drover_V1_GetDataRequest>(maxBytes: limit),
            serializer: ProtobufSerializer<Drover_V1_DataChunks>(),
            handler: { request, context in try await self.getData(request: request, context: context) }
        )
        router.registerHandler(
            forMethod: Drover_V1_Worker.Method.PutData.descriptor,
            deserializer: LimitedDeserializer<Drover_V1_DataChunks>(maxBytes: limit),
            serializer: ProtobufSerializer<Drover_V1_PutDataResponse>(),
            handler: { request, context in try await self.putData(request: request, context: context) }
        )
    }

    func getData(
        request: Drover_V1_GetDataRequest,
        response: RPCWriter<Drover_V1_DataChunks>,
        context: ServerContext
    ) async throws {
        var packer = DataChunks.Packer()
        for key in request.keys.map({ TaskKey($0) }) {
            guard
                let (payload, shared) = runtime.payloadToServe(
                    for: key, sharedMemoryHost: request.sharedMemoryHost)
            else {
                let missing = DataChunks.missing(key, reason: "this worker does not hold '\(key)'")
                if let message = packer.add(missing) { try await response.write(message) }
                continue
            }
            if let shared {
                let chunk = DataChunks.shared(payload, key: key, socket: shared.socket, segment: shared.segment)
                if let message = packer.add(chunk) { try await response.write(message) }
                continue
            }
            if request.acceptsBulk, runtime.servesBulk, payload.data.count >= BulkStream.minValueBytes {
                if let message = packer.add(DataChunks.bulk(payload, key: key)) { try await response.write(message) }
                continue
            }
            for chunk in DataChunks.split(payload, key: key) {
                if let message = packer.add(chunk) { try await response.write(message) }
            }
        }
        if let message = packer.flush() { try await response.write(message) }
    }

    func putData(
        request: RPCAsyncSequence<Drover_V1_DataChunks, any Error>,
        context: ServerContext
    ) async throws -> Drover_V1_PutDataResponse {
        var assembler = DataChunks.Assembler()
        do {
            for try await message in request {
                for chunk in message.chunks { try assembler.add(chunk) }
            }
        } catch let error as ProtoConversionError {
            runtime.logger.warning("refused malformed PutData", metadata: ["error": "\(error.message)"])
            throw RPCError(code: .invalidArgument, message: "PutData: \(error.message)")
        } catch let error as RPCError where error.code == .resourceExhausted {
            runtime.logger.warning("refused an oversize PutData message", metadata: ["error": "\(error.message)"])
            throw error
        } catch {
            // The transport's own refusals (a message over twice the limit) arrive here; it has
            // ended the stream.
            runtime.logger.warning("PutData failed", metadata: ["error": "\(error)"])
            throw error
        }
        // A value is never overwritten: a key this worker holds keeps its bytes, whoever sends others.
        let held = runtime.heldKeys(among: Array(assembler.values.keys))
        if let key = held.first {
            let peer = RoleInterceptor.peer(of: context)
            runtime.logger.warning(
                "refused a PutData of a key held here",
                metadata: [
                    "task.key": "\(key)", "peer.address": "\(context.remotePeer)",
                    "peer.certificate": "\(peer.subject)",
                ])
            throw RPCError(
                code: .permissionDenied,
                message: "PutData refused: this worker already holds '\(key)', and a value is never overwritten.")
        }
        runtime.received(assembler.values)
        return .with { $0.keys = assembler.values.keys.map(\.rawValue).sorted() }
    }
}
