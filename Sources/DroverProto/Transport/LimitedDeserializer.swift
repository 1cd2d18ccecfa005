public import GRPCCore
import GRPCProtobuf
public import SwiftProtobuf

/// Deserializes a protobuf message after checking its size against a limit of Drover's own, so
/// that an oversize message is refused with `resourceExhausted` and a sentence naming the limit.
///
/// The transport's own limit (``TransportLimits/transportMessageBytes(for:)``) sits above this
/// one: a message over the transport's limit has its stream reset by the transport, which gives
/// the peer no status at all, so Drover's limit must be met first.
public struct LimitedDeserializer<Message: SwiftProtobuf.Message>: MessageDeserializer {
    /// The largest message accepted, in bytes.
    public let maxBytes: Int
    private let inner = ProtobufDeserializer<Message>()

    public init(maxBytes: Int) {
        self.maxBytes = maxBytes
    }

    public func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> Message {
        guard serializedMessageBytes.count <= maxBytes else {
            throw RPCError(
                code: .resourceExhausted,
                message: "A \(Message.protoMessageName) message of \(serializedMessageBytes.count) bytes is over "
                    + "this server's limit of \(maxBytes) bytes; send less per message (split the batch, or "
                    + "put large values on workers with PutData and refer to them by key)."
            )
        }
        return try inner.deserialize(serializedMessageBytes)
    }
}
