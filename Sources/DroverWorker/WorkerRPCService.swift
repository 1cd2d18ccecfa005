import DroverCore
import DroverProto
import GRPCCore
import Logging
import SwiftProtobuf

/// The gRPC face of a worker: its results for peers and clients.
struct WorkerRPCService: Drover_V1_Worker.SimpleServiceProtocol {
    let runtime: WorkerRuntime

    func getData(
        request: Drover_V1_GetDataRequest,
        response: RPCWriter<Drover_V1_DataChunks>,
        context: ServerContext
    ) async throws {
        var packer = DataChunks.Packer()
        for key in request.keys.map({ TaskKey($0) }) {
            guard let payload = await runtime.payloadToServe(for: key) else {
                let missing = DataChunks.missing(key, reason: "this worker does not hold '\(key)'")
                if let message = packer.add(missing) { try await response.write(message) }
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
        } catch {
            // The transport's own refusals (an oversize message) arrive here; it has ended the stream.
            runtime.logger.warning("PutData failed", metadata: ["error": "\(error)"])
            throw error
        }
        await runtime.received(assembler.values)
        return .with { $0.keys = assembler.values.keys.map(\.rawValue).sorted() }
    }
}
