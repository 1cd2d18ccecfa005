public import DroverCore
import Foundation
import SwiftProtobuf

/// Values split into `drover.v1.DataChunk`s for the worker's `GetData` stream, and put together again.
public enum DataChunks {
    /// The largest chunk: well under gRPC's 4 MiB default message limit.
    public static let chunkSize = 1 << 20

    /// The chunks of one value, the first carrying its encoding, type and size.
    public static func split(_ payload: Payload, key: TaskKey) -> [Drover_V1_DataChunk] {
        var chunks: [Drover_V1_DataChunk] = []
        let data = payload.data
        var offset = data.startIndex
        repeat {
            let end = min(offset + chunkSize, data.endIndex)
            var chunk = Drover_V1_DataChunk()
            chunk.key = key.rawValue
            if chunks.isEmpty {
                chunk.encoding = payload.proto.encoding
                chunk.typeName = payload.typeName
                chunk.totalBytes = Int64(data.count)
            }
            chunk.data = data.subdata(in: offset..<end)
            chunk.last = end == data.endIndex
            chunks.append(chunk)
            offset = end
        } while offset < data.endIndex
        return chunks
    }

    /// The one chunk of a value offered as a memory segment (for an asker on this host).
    public static func shared(_ payload: Payload, key: TaskKey, socket: String, segment: UInt64) -> Drover_V1_DataChunk
    {
        .with {
            $0.key = key.rawValue
            $0.encoding = payload.proto.encoding
            $0.typeName = payload.typeName
            $0.totalBytes = Int64(payload.data.count)
            $0.shared = .with {
                $0.socket = socket
                $0.segment = segment
            }
            $0.last = true
        }
    }

    /// The one chunk of a value offered over the bulk stream (for an asker that accepts it).
    public static func bulk(_ payload: Payload, key: TaskKey) -> Drover_V1_DataChunk {
        .with {
            $0.key = key.rawValue
            $0.encoding = payload.proto.encoding
            $0.typeName = payload.typeName
            $0.totalBytes = Int64(payload.data.count)
            $0.bulk = true
            $0.last = true
        }
    }

    /// The chunk saying a worker does not hold `key`.
    public static func missing(_ key: TaskKey, reason: String) -> Drover_V1_DataChunk {
        .with {
            $0.key = key.rawValue
            $0.missing = reason
            $0.last = true
        }
    }

    /// Packs chunks into messages of about ``chunkSize`` bytes, so that many small values travel
    /// in one message and a large one in messages of one chunk each.
    public struct Packer: Sendable {
        private var pending = Drover_V1_DataChunks()
        private var pendingBytes = 0

        public init() {}

        /// Adds a chunk; returns a message when the chunks so far have filled one.
        public mutating func add(_ chunk: Drover_V1_DataChunk) -> Drover_V1_DataChunks? {
            var full: Drover_V1_DataChunks?
            if pendingBytes + chunk.data.count > chunkSize && !pending.chunks.isEmpty { full = flush() }
            pending.chunks.append(chunk)
            pendingBytes += chunk.data.count + chunk.key.utf8.count + 16
            return full
        }

        /// The chunks not yet sent, if any.
        public mutating func flush() -> Drover_V1_DataChunks? {
            guard !pending.chunks.isEmpty else { return nil }
            defer {
                pending = Drover_V1_DataChunks()
                pendingBytes = 0
            }
            return pending
        }
    }

    /// Puts chunks back together, key by key.
    public struct Assembler: Sendable {
        public private(set) var values: [TaskKey: Payload] = [:]
        public private(set) var missing: [TaskKey: String] = [:]
        /// Values offered as memory segments (only when ``acceptsShared``).
        public private(set) var shared: [TaskKey: SharedValue] = [:]
        /// Values offered over the bulk stream, with their announced sizes (only when
        /// ``acceptsBulk``).
        public private(set) var bulk: [TaskKey: Int64] = [:]
        private var current: (key: TaskKey, payload: Payload)?
        private let acceptsShared: Bool
        private let acceptsBulk: Bool
        /// The most a value's announced size reserves before its bytes arrive.
        static let maxReservedBytes: Int64 = 64 << 20

        /// Creates an assembler; one that does not accept shared segments (or bulk offers)
        /// refuses a chunk naming one.
        public init(acceptsShared: Bool = false, acceptsBulk: Bool = false) {
            self.acceptsShared = acceptsShared
            self.acceptsBulk = acceptsBulk
        }

        /// Checks a chunk that stands for a whole value whose bytes come another way (a segment,
        /// the bulk stream): asked for, alone (not in the middle of a value), of a size, last.
        private func checkWholeValue(
            _ chunk: Drover_V1_DataChunk, key: TaskKey, accepted: Bool, way: String, form: String
        ) throws {
            guard accepted else {
                throw ProtoConversionError(message: "'\(key)' \(way), which was not asked for")
            }
            guard current == nil, chunk.totalBytes >= 0, chunk.last else {
                throw ProtoConversionError(message: "'\(key)' \(form)")
            }
        }

        /// Adds the next chunk of the stream.
        ///
        /// - Throws: ``ProtoConversionError`` when a chunk of another key arrives mid-value.
        public mutating func add(_ chunk: Drover_V1_DataChunk) throws {
            let key = TaskKey(chunk.key)
            if !chunk.missing.isEmpty {
                missing[key] = chunk.missing
                return
            }
            if chunk.hasShared {
                try checkWholeValue(
                    chunk, key: key, accepted: acceptsShared, way: "came as a shared memory segment",
                    form: "came as a malformed shared memory chunk")
                shared[key] = SharedValue(
                    key: key, socket: chunk.shared.socket, segment: chunk.shared.segment,
                    encoding: Payload.Encoding(rawValue: chunk.encoding.rawValue), typeName: chunk.typeName,
                    totalBytes: chunk.totalBytes)
                return
            }
            if chunk.bulk {
                try checkWholeValue(
                    chunk, key: key, accepted: acceptsBulk, way: "was offered over the bulk stream",
                    form: "came as a malformed bulk offer")
                bulk[key] = chunk.totalBytes
                return
            }
            if case (let currentKey, var payload)? = current {
                guard currentKey == key else {
                    throw ProtoConversionError(message: "a chunk of '\(key)' arrived in the middle of '\(currentKey)'")
                }
                current = nil  // so that the append below does not copy the value so far
                payload.data.append(chunk.data)
                current = (currentKey, payload)
            } else {
                guard chunk.totalBytes >= 0 else {
                    throw ProtoConversionError(message: "'\(key)' claims \(chunk.totalBytes) bytes in all")
                }
                var data = Data()
                // The claim is the peer's word, not a fact: reserve at most what a few chunks
                // carry, and let the data that really comes grow the buffer.
                data.reserveCapacity(Int(min(chunk.totalBytes, Self.maxReservedBytes)))
                data.append(chunk.data)
                let proto = Drover_V1_Payload.with {
                    $0.encoding = chunk.encoding
                    $0.typeName = chunk.typeName
                }
                var payload = Payload(proto: proto)
                payload.data = data
                current = (key, payload)
            }
            if chunk.last, let finished = current {
                values[finished.key] = finished.payload
                current = nil
            }
        }
    }
}

/// A `host:port` address, or a Unix-domain socket's path (`unix:PATH`): how a process on the
/// scheduler's host reaches it without TCP (`drover scheduler --unix-socket`).
public struct HostAndPort: Sendable, Hashable, CustomStringConvertible {
    /// The host; for a Unix socket `localhost`, the name its TLS certificate is checked against.
    public var host: String
    /// The port; 0 for a Unix socket.
    public var port: Int
    /// The Unix socket dialled instead of `host:port`, for an address `unix:PATH`.
    public var unixSocket: String?

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// The Unix-domain socket at `path`.
    public init(unixSocket path: String) {
        self.host = "localhost"
        self.port = 0
        self.unixSocket = path
    }

    /// Parses `host:port` (an optional `tcp://` or `tls://` prefix is accepted, like Dask's
    /// addresses; whether TLS is used is the process's ``Security``, not the prefix's). A worker's
    /// address is always this form: other hosts dial it.
    public init?(_ text: String) {
        var rest = Substring(text)
        if rest.hasPrefix("tcp://") || rest.hasPrefix("tls://") { rest = rest.dropFirst(6) }
        guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]),
            (0...65535).contains(port)
        else { return nil }
        self.host = String(rest[..<colon])
        self.port = port
        if host.isEmpty { return nil }
    }

    /// The longest path a Unix socket address holds (`sun_path` less its terminating zero).
    public static let maxUnixSocketPathBytes = 107

    /// Parses `host:port` as ``init(_:)`` does, or `unix:PATH` (also `unix://PATH`, as gRPC
    /// writes it) with an absolute path that fits a socket address: how a scheduler is named.
    public init?(schedulerAddress text: String) {
        guard text.hasPrefix("unix:") else {
            self.init(text)
            return
        }
        var path = Substring(text.dropFirst("unix:".count))
        if path.hasPrefix("//") { path = path.dropFirst(2) }
        guard path.hasPrefix("/"), path.utf8.count <= Self.maxUnixSocketPathBytes, !path.utf8.contains(0) else {
            return nil
        }
        self.init(unixSocket: String(path))
    }

    public var description: String { unixSocket.map { "unix:\($0)" } ?? "\(host):\(port)" }
}
