import DroverCore
public import GRPCCore
public import NIOCore

/// Drover's own framing for the scheduler's two hot streams (`WorkerStream`, `ClientStream`):
/// the same drover.v1 messages as over gRPC, each in a length-prefixed frame on a plain socket
/// (TLS when the cluster uses it). `drover bench transport` measured it against a gRPC stream
/// on this machine: a round trip 8–11x faster, throughput 1.1–2.8x. See the README's "The wire".
///
/// A connection:
/// 1. The client sends the 8-byte preface `DROVER/1` and one byte naming the stream
///    (``WireStreamKind``). Anything else on the port (HTTP/2's preface, a TLS ClientHello) is
///    gRPC, passed to the scheduler's gRPC server.
/// 2. The server answers one byte: `T` (TLS follows: the client starts a handshake, mutual, with
///    the cluster's certificates) or `P` (plaintext).
/// 3. Frames both ways: a 4-byte big-endian length, then that many bytes: a type byte and the
///    body. ``WireFrame/Kind``.
public struct WireFrame: Sendable, Equatable {
    public enum Kind: UInt8, Sendable {
        /// One serialized drover.v1 message (`WorkerEvents`, `WorkerCommands`, `ClientEvents`,
        /// `ClientUpdates`).
        case message = 1
        /// The sender sends no more messages (gRPC's half-close, or the server's OK status).
        case end = 2
        /// The server ends the stream with an error: a 4-byte big-endian gRPC status code, then
        /// the message in UTF-8.
        case status = 3
    }

    public var kind: Kind
    public var body: ByteBuffer

    public init(kind: Kind, body: ByteBuffer) {
        self.kind = kind
        self.body = body
    }

    /// The preface a wire client sends first.
    public static let preface: [UInt8] = Array("DROVER/1".utf8)
    /// Bytes of the length prefix.
    static let lengthBytes = 4

    /// A status frame ending a stream with `error`.
    public static func status(_ error: RPCError) -> WireFrame {
        var body = ByteBuffer()
        body.writeInteger(UInt32(error.code.rawValue))
        body.writeString(error.message)
        return WireFrame(kind: .status, body: body)
    }

    /// The error a status frame carries.
    public func statusError() -> RPCError {
        var body = body
        let raw = body.readInteger(as: UInt32.self).map(Int.init) ?? RPCError.Code.unknown.rawValue
        let message = body.readString(length: body.readableBytes) ?? ""
        let code = Status.Code(rawValue: raw).flatMap { RPCError.Code($0) } ?? .unknown
        return RPCError(code: code, message: message)
    }
}

/// The stream a wire connection carries.
public enum WireStreamKind: UInt8, Sendable, CaseIterable {
    /// A worker's `WorkerStream` to the scheduler.
    case worker = 1
    /// A client's `ClientStream` to the scheduler.
    case client = 2
    /// A peer or client reading large values from a worker (``BulkStream``).
    case bulk = 3

    /// Who opens it, for messages.
    var peerName: String {
        switch self {
        case .worker: "worker"
        case .client: "client"
        case .bulk: "peer"
        }
    }

    /// The gRPC method it stands for: the same name in ``AccessPolicy`` and in logs. The bulk
    /// stream serves what `GetData` serves, to the same roles.
    public var method: String {
        switch self {
        case .worker: "drover.v1.Scheduler/WorkerStream"
        case .client: "drover.v1.Scheduler/ClientStream"
        case .bulk: "drover.v1.Worker/GetData"
        }
    }
}

/// Splits bytes into ``WireFrame``s, refusing a frame over `maxFrameBytes` before reading it.
public struct WireFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = WireFrame

    /// A frame longer than the limit (its length prefix says so).
    public struct TooLarge: Error, Equatable {
        public var bytes: Int
        public var limit: Int
    }

    /// A frame whose type byte is none of ``WireFrame/Kind``, or that has no type byte.
    public struct Malformed: Error, Equatable {
        public var reason: String
    }

    public let maxFrameBytes: Int

    public init(maxFrameBytes: Int) {
        self.maxFrameBytes = maxFrameBytes
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try Self.next(from: &buffer, maxFrameBytes: maxFrameBytes) else { return .needMoreData }
        HopTrace.mark("loop.read")
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws
        -> DecodingState
    {
        try decode(context: context, buffer: &buffer)
    }

    /// The next whole frame in `buffer`, consuming it; nil when `buffer` holds less than a frame.
    public static func next(from buffer: inout ByteBuffer, maxFrameBytes: Int) throws -> WireFrame? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self).map(Int.init) else {
            return nil
        }
        guard length <= maxFrameBytes else { throw TooLarge(bytes: length, limit: maxFrameBytes) }
        guard length >= 1 else { throw Malformed(reason: "a frame of 0 bytes has no type") }
        guard buffer.readableBytes >= WireFrame.lengthBytes + length else { return nil }
        buffer.moveReaderIndex(forwardBy: WireFrame.lengthBytes)
        let type = buffer.readInteger(as: UInt8.self)!
        guard let kind = WireFrame.Kind(rawValue: type) else {
            throw Malformed(reason: "unknown frame type \(type)")
        }
        return WireFrame(kind: kind, body: buffer.readSlice(length: length - 1)!)
    }
}

/// Writes ``WireFrame``s with their length prefix.
public struct WireFrameEncoder: MessageToByteEncoder {
    public typealias OutboundIn = WireFrame

    public init() {}

    public func encode(data: WireFrame, out: inout ByteBuffer) throws {
        HopTrace.mark("loop.write")
        Self.write(data, to: &out)
    }

    public static func write(_ frame: WireFrame, to out: inout ByteBuffer) {
        out.reserveCapacity(minimumWritableBytes: WireFrame.lengthBytes + 1 + frame.body.readableBytes)
        out.writeInteger(UInt32(1 + frame.body.readableBytes))
        out.writeInteger(frame.kind.rawValue)
        var body = frame.body
        out.writeBuffer(&body)
    }
}
