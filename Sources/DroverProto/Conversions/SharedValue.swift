public import DroverCore

/// A value a worker of the same host offers as a memory segment instead of bytes
/// (`DataChunk.shared`): where to ask for it and what it holds.
public struct SharedValue: Sendable, Hashable {
    public var key: TaskKey
    /// The producer's abstract Unix socket.
    public var socket: String
    /// The segment's number on that socket.
    public var segment: UInt64
    public var encoding: Payload.Encoding
    public var typeName: String
    /// The value's length: the segment must hold exactly this many bytes.
    public var totalBytes: Int64

    public init(
        key: TaskKey, socket: String, segment: UInt64, encoding: Payload.Encoding, typeName: String, totalBytes: Int64
    ) {
        self.key = key
        self.socket = socket
        self.segment = segment
        self.encoding = encoding
        self.typeName = typeName
        self.totalBytes = totalBytes
    }
}

/// How a fetch may take values as shared memory: the asker's host identity, and what maps
/// the segments a peer offers.
public struct SharedMemoryAccess: Sendable {
    /// Sent as `GetDataRequest.shared_memory_host`.
    public var host: String
    /// Maps offered values; one it cannot map is left out, and is then fetched as bytes.
    public var map: @Sendable ([SharedValue]) async -> [TaskKey: Payload]

    /// Creates an access.
    public init(host: String, map: @escaping @Sendable ([SharedValue]) async -> [TaskKey: Payload]) {
        self.host = host
        self.map = map
    }
}
