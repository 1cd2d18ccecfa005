import GRPCCore
import NIOCore
import Testing

@testable import DroverProto

/// The wire's framing as a pure function of bytes: whole frames come out in order, a partial one
/// waits, and a frame over the limit or of an unknown type is refused before its body is read.
@Suite struct WireFrameTests {
    static func encoded(_ frames: [WireFrame]) -> ByteBuffer {
        var buffer = ByteBuffer()
        for frame in frames { WireFrameEncoder.write(frame, to: &buffer) }
        return buffer
    }

    static func message(_ text: String) -> WireFrame {
        WireFrame(kind: .message, body: ByteBuffer(string: text))
    }

    @Test func framesComeOutWholeAndInOrder() throws {
        let frames = [
            Self.message("first"), WireFrame(kind: .end, body: ByteBuffer()),
            Self.message(String(repeating: "x", count: 70_000)),
        ]
        var buffer = Self.encoded(frames)
        var decoded: [WireFrame] = []
        while let frame = try WireFrameDecoder.next(from: &buffer, maxFrameBytes: 1 << 20) { decoded.append(frame) }
        #expect(decoded == frames)
        #expect(buffer.readableBytes == 0)
    }

    @Test func aPartialFrameWaitsForTheRestAtEverySplit() throws {
        let whole = Self.encoded([Self.message("hello, wire")])
        for split in 0..<whole.readableBytes {
            var buffer = whole.getSlice(at: 0, length: split)!
            #expect(try WireFrameDecoder.next(from: &buffer, maxFrameBytes: 1024) == nil)
            #expect(buffer.readableBytes == split, "nothing is consumed before the frame is whole")
            var rest = whole.getSlice(at: split, length: whole.readableBytes - split)!
            buffer.writeBuffer(&rest)
            #expect(try WireFrameDecoder.next(from: &buffer, maxFrameBytes: 1024) == Self.message("hello, wire"))
        }
    }

    @Test func aFrameOverTheLimitIsRefusedFromItsLengthAlone() {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(1 << 30))  // claims a GiB; none of it is sent
        #expect(throws: WireFrameDecoder.TooLarge(bytes: 1 << 30, limit: 4096)) {
            try WireFrameDecoder.next(from: &buffer, maxFrameBytes: 4096)
        }
    }

    @Test func unknownTypesAndEmptyFramesAreMalformed() {
        var unknown = ByteBuffer()
        unknown.writeInteger(UInt32(1))
        unknown.writeInteger(UInt8(9))
        #expect(throws: WireFrameDecoder.Malformed(reason: "unknown frame type 9")) {
            try WireFrameDecoder.next(from: &unknown, maxFrameBytes: 4096)
        }
        var empty = ByteBuffer()
        empty.writeInteger(UInt32(0))
        #expect(throws: WireFrameDecoder.Malformed(reason: "a frame of 0 bytes has no type")) {
            try WireFrameDecoder.next(from: &empty, maxFrameBytes: 4096)
        }
    }

    @Test func aStatusFrameCarriesTheErrorCodeAndMessage() {
        let error = RPCError(code: .permissionDenied, message: "needs a worker certificate; ünïcode kept")
        let carried = WireFrame.status(error).statusError()
        #expect(carried.code == .permissionDenied)
        #expect(carried.message == error.message)
        // A status frame with a code gRPC does not have, or no code at all, is `unknown`.
        var body = ByteBuffer()
        body.writeInteger(UInt32(999))
        #expect(WireFrame(kind: .status, body: body).statusError().code == .unknown)
        #expect(WireFrame(kind: .status, body: ByteBuffer()).statusError().code == .unknown)
    }
}
