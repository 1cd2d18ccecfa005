public import DroverCore
import GRPCCore
import GRPCNIOTransportHTTP2
import SwiftProtobuf

/// The client side of `Worker.GetData` and `Worker.PutData`: what peers (transfer) and clients
/// (gather, scatter) both use, over connections kept in a ``PeerConnections``.
public enum DataFetch {
    /// Fetches `keys` from the worker at `address` (`host:port`) and returns what it had.
    ///
    /// - Throws: ``ProtoConversionError`` for a malformed address or stream; the RPC's error when
    ///   the worker cannot be reached (its connection is then dropped from `connections`).
    public static func fetch(
        _ keys: [TaskKey], from address: String, connections: PeerConnections
    ) async throws -> [TaskKey: Payload] {
        let client = try connections.client(for: address)
        let request = Drover_V1_GetDataRequest.with { $0.keys = keys.map(\.rawValue) }
        do {
            return try await Drover_V1_Worker.Client(wrapping: client).getData(
                request, options: TransportLimits.callOptions
            ) { response in
                var assembler = DataChunks.Assembler()
                for try await message in response.messages {
                    for chunk in message.chunks { try assembler.add(chunk) }
                }
                return assembler.values
            }
        } catch let error as RPCError {
            connections.drop(address)
            throw error
        }
    }

    /// Stores `values` on the worker at `address` (scatter) and returns the keys it stored.
    public static func put(
        _ values: [(TaskKey, Payload)], to address: String, connections: PeerConnections
    ) async throws -> [TaskKey] {
        let client = try connections.client(for: address)
        do {
            let response = try await Drover_V1_Worker.Client(wrapping: client).putData(
                options: TransportLimits.callOptions,
                requestProducer: { writer in
                    var packer = DataChunks.Packer()
                    for (key, payload) in values {
                        for chunk in DataChunks.split(payload, key: key) {
                            if let message = packer.add(chunk) { try await writer.write(message) }
                        }
                    }
                    if let message = packer.flush() { try await writer.write(message) }
                }
            )
            return response.keys.map { TaskKey($0) }
        } catch let error as RPCError {
            connections.drop(address)
            throw error
        }
    }
}
