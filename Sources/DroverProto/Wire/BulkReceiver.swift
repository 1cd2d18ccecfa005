import DroverCore
import Foundation
import GRPCCore
import Glibc
import NIOCore
import SwiftProtobuf

/// The asker's end of a bulk stream (see ``BulkStream``): parses each value's header, checks the
/// size it announces, allocates one buffer of exactly that size and fills it as the bytes arrive.
/// A packed array's buffer is the Swift array its consumer decodes (``IncomingPackedArray``).
/// Runs on the connection's event loop; each fetch on the connection (``begin(_:)``, one at a
/// time: a connection is kept for the next fetch) completes its promise with the values read or
/// the first error. An error closes the connection.
///
/// Over plaintext, given the connection's socket, the value's bytes are read from the socket
/// straight into its buffer (`recv`, never blocking, on the event loop): NIO then only reads
/// small buffers (the headers, and what of a value comes with one), and each such read wakes this
/// handler to take the rest of what has arrived itself. With TLS the bytes must pass through
/// NIOSSL, and each decrypted buffer is copied into the value's.
final class BulkReceiver: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    /// The values read and the keys the worker said it does not hold.
    struct Outcome: Sendable {
        var values: [TaskKey: Payload] = [:]
        var missing: [TaskKey: String] = [:]
    }

    /// A fetch that ended before any byte of its answer arrived: on a connection kept from an
    /// earlier fetch, the worker may have closed it meanwhile (restarted, or its own deadline),
    /// and the fetch is asked again on a new connection.
    struct Unanswered: Error {
        var error: any Error
    }

    /// One fetch: the keys asked for, the checks on their headers, and what has arrived.
    struct Request {
        /// The keys asked for, in the order the worker answers them.
        var keys: [TaskKey]
        /// The sizes `GetData` announced: a header that differs is an error.
        var expectedBytes: [TaskKey: Int64]
        /// The largest value accepted; a header announcing more is refused before anything is
        /// allocated.
        var maxValueBytes: Int64
        var promise: EventLoopPromise<Outcome>
        fileprivate var outcome = Outcome()
        fileprivate var next = 0
        fileprivate var answered = false
        /// When the fetch began: on a kept connection the idle timer counts from the last fetch's
        /// last read, and the worker gets its whole ``BulkReceiver/idleTimeout`` from here.
        fileprivate var began = NIODeadline.now()

        init(
            keys: [TaskKey], expectedBytes: [TaskKey: Int64], maxValueBytes: Int64,
            promise: EventLoopPromise<Outcome>
        ) {
            self.keys = keys
            self.expectedBytes = expectedBytes
            self.maxValueBytes = maxValueBytes
            self.promise = promise
        }
    }

    /// The value being read: its header, its buffer and how much of it has arrived.
    private struct Body {
        var key: TaskKey
        var proto: Drover_V1_Payload
        var buffer: UnsafeMutableRawPointer
        var count: Int
        var filled: Int
        /// How much of the buffer has its pages already (see ``prepare(_:upTo:)``).
        var populated: Int
        /// A packed array's payload, whose bytes are `buffer` (the array's storage, freed with
        /// it); nil when `buffer` is a mapping of its own.
        var array: Payload?
    }

    /// The most read straight from the socket in one go, before NIO's loop has its turn again.
    static let directReadBytes = 16 << 20
    /// How far ahead of the bytes arriving the buffer's pages are put in place: little, so that
    /// putting them in place never keeps the socket unread for long (8 MiB at a time filled the
    /// socket's buffer while the event loop was busy, and 256 MiB `Data` across namespace hosts
    /// fell from ~1.2 to 0.85–1.18 GiB/s; 1 MiB: 1.26–1.28).
    static let populateAheadBytes = 1 << 20

    private let peer: String
    private let idleTimeout: TimeAmount
    /// The connection's socket, to read values' bytes from directly (plaintext only).
    private let descriptor: CInt?
    /// The fetch under way; nil between fetches.
    private var request: Request?
    private var body: Body?
    /// Bytes of a header frame that has not arrived whole.
    private var carried: ByteBuffer?
    /// Whether the connection has ended (an error, the worker closing it): no more fetches.
    private var closed = false
    /// The worker's refusal, when it came before any fetch began (reported to the next one).
    private var refusal: RPCError?

    /// - Parameters:
    ///   - peer: The worker's address, for messages.
    ///   - idleTimeout: How long the worker may send nothing during a fetch (the connection's
    ///     `IdleStateHandler`); between fetches, that long unused closes the connection.
    ///   - descriptor: The connection's socket when nothing sits between it and this handler
    ///     (plaintext): values' bytes are then read from it directly.
    init(peer: String, idleTimeout: TimeAmount, descriptor: CInt? = nil) {
        self.descriptor = descriptor
        self.idleTimeout = idleTimeout
        self.peer = peer
    }

    /// Starts a fetch, whose request the caller then writes. Call on the event loop.
    func begin(_ fetch: Request) {
        guard !closed, request == nil else {
            fetch.promise.fail(
                refusal
                    ?? Unanswered(
                        error: RPCError(code: .unavailable, message: "The bulk stream to \(peer) has closed.")))
            return
        }
        request = fetch
        request?.began = .now()
    }

    // MARK: - Reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closed else { return }
        guard request != nil else {
            // Between fetches the worker has nothing to say, but a refusal may come before the
            // first fetch begins (a certificate refused at the handshake): kept for that fetch.
            var input = unwrapInboundIn(data)
            if let frame = try? WireFrameDecoder.next(from: &input, maxFrameBytes: BulkStream.maxHeaderBytes + 1),
                case .status = frame.kind
            {
                refusal = frame.statusError()
            }
            fail(refusal ?? malformed("it sent bytes no fetch asked for"), context: context)
            return
        }
        request?.answered = true
        var input = unwrapInboundIn(data)
        if var previous = carried {
            carried = nil
            previous.writeBuffer(&input)
            input = previous
        }
        do {
            while input.readableBytes > 0, request != nil {
                if body != nil {
                    fill(from: &input)
                    // What NIO read is used up; the rest of the value is still in the socket.
                    if body != nil, let descriptor { try readDirectly(from: descriptor, context: context) }
                    continue
                }
                guard let frame = try WireFrameDecoder.next(from: &input, maxFrameBytes: BulkStream.maxHeaderBytes + 1)
                else {
                    carried = input
                    break
                }
                try handle(frame, context: context)
            }
            if request == nil, input.readableBytes > 0 { throw malformed("it sent bytes after the end frame") }
        } catch {
            fail(error, context: context)
        }
    }

    /// Copies what `input` holds of the current value into its buffer.
    private func fill(from input: inout ByteBuffer) {
        guard var current = body else { return }
        let count = min(current.count - current.filled, input.readableBytes)
        Self.prepare(&current, upTo: current.filled + count)
        input.readWithUnsafeReadableBytes { source in
            (current.buffer + current.filled).copyMemory(from: source.baseAddress!, byteCount: count)
            return count
        }
        current.filled += count
        if current.filled == current.count {
            body = nil
            finish(current)
        } else {
            body = current
        }
    }

    /// Reads the current value's bytes from the socket into its buffer until the socket has no
    /// more for now, the value is whole, or ``directReadBytes`` have been read. Never reads past
    /// the value: what follows it is NIO's to read.
    private func readDirectly(from descriptor: CInt, context: ChannelHandlerContext) throws {
        // NIO closes the socket on this loop: while the channel is active it is still this one.
        guard var current = body, context.channel.isActive else { return }
        var budget = Self.directReadBytes
        defer { body = current.filled == current.count ? nil : current }
        while current.filled < current.count, budget > 0 {
            let wanted = min(current.count - current.filled, budget, Self.populateAheadBytes)
            Self.prepare(&current, upTo: current.filled + wanted)
            let got = recv(descriptor, current.buffer + current.filled, wanted, Int32(MSG_DONTWAIT))
            if got > 0 {
                current.filled += got
                budget -= got
                continue
            }
            if got == 0 {
                // The peer closed: NIO sees it next and the value is reported truncated.
                return
            }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return
            case let code:
                throw RPCError(
                    code: .unavailable,
                    message: "Reading the bulk stream from the worker at \(peer) failed after \(current.filled) of the "
                        + "\(current.count) bytes of '\(current.key)': \(String(cString: strerror(code))).")
            }
        }
        if current.filled == current.count { finish(current) }
    }

    /// Puts the pages of `current`'s buffer in place up to `end` (rounded up to
    /// ``populateAheadBytes``) in one call each (`MADV_POPULATE_WRITE`) rather than one fault per
    /// 4 KiB page as the bytes land; ahead of the reads, so that the sender is never kept
    /// waiting for all of them at once. A kernel without it leaves the faults to the copy.
    private static func prepare(_ current: inout Body, upTo end: Int) {
        guard current.populated < end else { return }
        let target = min(current.count, max(end, current.populated + populateAheadBytes))
        // From the page the next byte is on: an array's storage starts past its header, not on a
        // page boundary. The page's other bytes are the allocation's own (or, for a small array,
        // the heap's), and populating a page changes none of its bytes.
        let start = Int(bitPattern: current.buffer + current.populated) & ~(pageBytes - 1)
        let populateWrite: Int32 = 23  // MADV_POPULATE_WRITE, which Glibc's Swift module does not name
        _ = madvise(
            UnsafeMutableRawPointer(bitPattern: start), Int(bitPattern: current.buffer + target) - start, populateWrite)
        current.populated = target
    }

    private static let pageBytes = Int(getpagesize())

    private func handle(_ frame: WireFrame, context: ChannelHandlerContext) throws {
        guard let fetch = request else { return }
        switch frame.kind {
        case .message:
            let chunk: Drover_V1_DataChunk
            do {
                chunk = try Drover_V1_DataChunk(serializedBytes: FrameBytes(frame.body))
            } catch {
                throw malformed("a value's header did not decode: \(error)")
            }
            try start(chunk)
        case .end:
            guard fetch.next == fetch.keys.count else {
                throw malformed("it ended after \(fetch.next) of the \(fetch.keys.count) values asked for")
            }
            // The connection stays open for the next fetch.
            request = nil
            fetch.promise.succeed(fetch.outcome)
        case .status:
            throw frame.statusError()
        }
    }

    /// A value's header: checks it, then allocates the value's buffer.
    private func start(_ chunk: Drover_V1_DataChunk) throws {
        guard var fetch = request else { return }
        defer { request = fetch }
        guard fetch.next < fetch.keys.count else { throw malformed("it sent more values than were asked for") }
        let key = fetch.keys[fetch.next]
        guard chunk.key == key.rawValue else {
            throw malformed("it sent '\(chunk.key)' where '\(key)' was due")
        }
        fetch.next += 1
        if !chunk.missing.isEmpty {
            fetch.outcome.missing[key] = chunk.missing
            return
        }
        let maxValueBytes = fetch.maxValueBytes
        let total = chunk.totalBytes
        guard total >= 0, total <= maxValueBytes else {
            throw RPCError(
                code: .resourceExhausted,
                message: "The worker at \(peer) announced \(total) bytes for '\(key)', over this process's "
                    + "limit of \(maxValueBytes) bytes for one value; nothing was allocated.")
        }
        if let expected = fetch.expectedBytes[key], expected != total {
            throw malformed("it announced \(total) bytes for '\(key)', but GetData offered \(expected)")
        }
        let proto = Drover_V1_Payload.with {
            $0.encoding = chunk.encoding
            $0.typeName = chunk.typeName
        }
        guard total > 0 else {
            fetch.outcome.values[key] = Payload(proto: proto)
            return
        }
        // No MADV_HUGEPAGE for either kind of buffer: under memory pressure the kernel compacts
        // synchronously for each huge page, and across namespace hosts on this busy machine that
        // stalled 256 MiB receives to half the rate of 4 KiB faults.
        // A packed array is received into the array its consumer decodes (`[Double]` takes it
        // without a copy), its pages put in place ahead of the bytes as a mapping's are.
        if let array = IncomingPackedArray(
            encoding: Payload.Encoding(rawValue: chunk.encoding.rawValue), typeName: chunk.typeName,
            byteCount: Int(total))
        {
            body = Body(
                key: key, proto: proto, buffer: array.bytes.baseAddress!, count: Int(total), filled: 0, populated: 0,
                array: array.payload)
            return
        }
        // Anything else: its own mapping, unmapped with the value's Data.
        guard let buffer = mmap(nil, Int(total), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
            buffer != MAP_FAILED
        else {
            throw RPCError(
                code: .resourceExhausted, message: "Could not allocate \(total) bytes for '\(key)' from \(peer).")
        }
        body = Body(key: key, proto: proto, buffer: buffer, count: Int(total), filled: 0, populated: 0, array: nil)
    }

    /// A value whose bytes have all arrived: its `Data` is its buffer (no copy).
    private func finish(_ current: Body) {
        if let array = current.array {
            request?.outcome.values[current.key] = array
            return
        }
        var payload = Payload(proto: current.proto)
        let count = current.count
        payload.data = Data(
            bytesNoCopy: current.buffer, count: count, deallocator: .custom { pointer, _ in munmap(pointer, count) })
        request?.outcome.values[current.key] = payload
    }

    private func malformed(_ reason: String) -> RPCError {
        RPCError(code: .dataLoss, message: "The bulk stream from the worker at \(peer) is malformed: \(reason).")
    }

    // MARK: - Ending

    /// Ends the connection, and the fetch under way with `error` (``Unanswered`` when nothing of
    /// its answer had arrived and `error` is the connection ending, not a deadline or a refusal).
    private func fail(_ error: any Error, context: ChannelHandlerContext, unanswerable: Bool = false) {
        guard !closed else { return }
        closed = true
        releaseBody()
        if let fetch = request {
            request = nil
            fetch.promise.fail(unanswerable && !fetch.answered ? Unanswered(error: error) : error)
        }
        context.close(promise: nil)
    }

    private func releaseBody() {
        // An array's storage goes with its payload.
        if let current = body, current.array == nil {
            munmap(current.buffer, current.count)
        }
        body = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let fetch = request {
            let position =
                body.map { "after \($0.filled) of the \($0.count) bytes of '\($0.key)'" }
                ?? "after \(fetch.next) of the \(fetch.keys.count) values asked for"
            fail(
                RPCError(
                    code: .unavailable,
                    message: "The worker at \(peer) closed the bulk stream \(position) (truncated)."),
                context: context, unanswerable: true)
        }
        closed = true
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            guard let fetch = request else {
                // Unused that long between fetches: not worth keeping.
                closed = true
                context.close(promise: nil)
                return
            }
            // The timer started before this fetch did (it fires again a full period later).
            if !fetch.answered, NIODeadline.now() - fetch.began < idleTimeout { return }
            fail(
                RPCError(
                    code: .deadlineExceeded,
                    message: "The worker at \(peer) sent nothing on the bulk stream for "
                        + "\(Duration.nanoseconds(idleTimeout.nanoseconds)); it may be hung."),
                context: context)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(error, context: context, unanswerable: true)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        releaseBody()
        closed = true
        if let fetch = request {
            request = nil
            fetch.promise.fail(RPCError(code: .cancelled, message: "The bulk stream from \(peer) was abandoned."))
        }
    }
}
