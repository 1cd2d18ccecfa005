public import GRPCCore
public import GRPCNIOTransportHTTP2

/// The gRPC settings every Drover connection shares.
///
/// Batches are cut at ``Swift/Array/batches(maxCount:maxBytes:size:)`` sizes well below
/// ``maxMessageBytes``; the limit is there so that a large submission (a `map` of a million
/// tasks is one message) fits, while anything bigger is refused with `resourceExhausted`.
public enum TransportLimits {
    /// The largest message any Drover server or client accepts.
    public static let maxMessageBytes = 256 << 20
    /// The HTTP/2 flow-control window: the 64 KiB default caps a transfer at ~120 MiB/s, 8 MiB
    /// drops connections under load (`../shared/recipes/grpc-swift-2.md`).
    public static let windowBytes = 1 << 20

    /// The largest message a worker's server accepts: `PutData` messages carry about 1 MiB.
    public static let maxWorkerMessageBytes = 16 << 20

    /// The transport's own limit for a server whose services refuse messages over
    /// `maxMessageBytes` (with ``LimitedDeserializer``): twice as large, so that a message up to
    /// that size reaches the service and is refused with `resourceExhausted` and a sentence,
    /// while the transport resets only streams with messages beyond it (giving no status).
    public static func transportMessageBytes(for maxMessageBytes: Int) -> Int {
        2 * maxMessageBytes
    }

    /// A server transport's configuration for services accepting messages up to
    /// `maxMessageBytes` (see ``transportMessageBytes(for:)``).
    public static func server(maxMessageBytes: Int = maxMessageBytes) -> HTTP2ServerTransport.Posix.Config {
        var config = HTTP2ServerTransport.Posix.Config.defaults
        config.http2.targetWindowSize = windowBytes
        config.rpc.maxRequestPayloadSize = transportMessageBytes(for: maxMessageBytes)
        return config
    }

    /// A client transport's configuration with these limits.
    public static var client: HTTP2ClientTransport.Posix.Config {
        var config = HTTP2ClientTransport.Posix.Config.defaults
        config.http2.targetWindowSize = windowBytes
        return config
    }

    /// Call options allowing messages up to ``maxMessageBytes`` both ways.
    public static var callOptions: CallOptions {
        var options = CallOptions.defaults
        options.maxRequestMessageBytes = maxMessageBytes
        options.maxResponseMessageBytes = maxMessageBytes
        return options
    }
}
