public import DroverCore
import GRPCCore
import GRPCNIOTransportHTTP2
import SwiftProtobuf

/// The client side of `Worker.GetData`: what peers (transfer) and clients (gather) both use.
public enum DataFetch {
    /// Fetches `keys` from the worker at `address` (`host:port`) and returns what it had.
    ///
    /// - Throws: ``ProtoConversionError`` for a malformed address or stream; the RPC's error when
    ///   the worker cannot be reached.
    public static func fetch(_ keys: [TaskKey], from address: String) async throws -> [TaskKey: Payload] {
        guard let endpoint = HostAndPort(address) else {
            throw ProtoConversionError(message: "'\(address)' is not a worker address of the form host:port.")
        }
        return try await withGRPCClient(
            transport: .http2NIOPosix(
                target: .dns(host: endpoint.host, port: endpoint.port), transportSecurity: .plaintext)
        ) { client in
            let request = Drover_V1_GetDataRequest.with { $0.keys = keys.map(\.rawValue) }
            return try await Drover_V1_Worker.Client(wrapping: client).getData(request) { response in
                var assembler = DataChunks.Assembler()
                for try await chunk in response.messages { try assembler.add(chunk) }
                return assembler.values
            }
        }
    }
}
