import DroverClient
import DroverCore
import DroverProto
import DroverTestKit
import Foundation
import GRPCCore
import Glibc
import NIOCore
import SwiftProtobuf
import Testing

/// Functions of `drover-test-tasks` used here by name.
enum BulkTasks {
    struct NotHere: Error {}
    static let sumDoubles = TaskFunction("test-sum-doubles") { (_: [Double]) throws -> Double in throw NotHere() }
    static let doubleInPlace = TaskFunction("test-double-in-place") { (_: [Double]) throws -> [Double] in
        throw NotHere()
    }
}

/// Large values over a worker's bulk stream: between workers with sharing off (so not as a
/// memory segment), to a client's gather, over TLS; against peers that lie about sizes, cut the
/// stream short or go silent; and back to `GetData` when the bulk stream is off.
@Suite(.timeLimit(.minutes(1)), .serialized) struct BulkStreamTests {
    static let size = SharedMemoryTests.size
    static let checksum = SharedMemoryTests.checksum
    static let sharingOff = ["DROVER_SHARED_MEMORY": "off"]

    /// The checksum of `Builtins.data`'s bytes, as `test-checksum-when` computes it.
    static func checksum(_ data: Data) -> Int {
        data.withUnsafeBytes { $0.reduce(0) { $0 + Int($1) } }
    }

    /// Makes `Builtins.data` of ``size`` bytes on the first worker and checksums it on the second.
    static func moveBetweenWorkers(_ cluster: LocalTestCluster, security: Security = .insecurePlaintext) async throws
        -> Int
    {
        let client = try await Client.connect(cluster.address, security: security, setAsDefault: false)
        let value = try client.submit(Builtins.data, size, workers: [cluster.workerAddresses[0]])
        try await client.wait([value])
        let go = SharedMemoryTests.temporaryPath()
        _ = FileManager.default.createFile(atPath: go, contents: Data())
        defer {
            try? FileManager.default.removeItem(atPath: go)
            try? FileManager.default.removeItem(atPath: go + ".sum")
        }
        let counted = try client.submit(
            SharedMemoryTasks.checksumWhen, go, value, workers: [cluster.workerAddresses[1]])
        let sum = try await counted.result()
        await client.close()
        return sum
    }

    static func servedBulk(_ worker: ProcessHarness) async -> Bool {
        await SharedMemoryTests.waitUntil { worker.log().contains("served a bulk stream") }
    }

    @Test func aLargeValueMovesBetweenWorkersOverTheBulkStream() async throws {
        let cluster = try await LocalTestCluster(workers: 2, threads: 1, workerEnvironment: Self.sharingOff)
        defer { cluster.stop() }
        #expect(try await Self.moveBetweenWorkers(cluster) == Self.checksum)
        #expect(await Self.servedBulk(cluster.workers[0]), "\(cluster.workers[0].log())")
    }

    /// A `[Double]` fetched over the bulk stream is received into the array its consumer takes:
    /// every value arrives right, and a consumer that changes its argument changes a copy (the next
    /// consumer of the same value on that worker reads the values as they were made). With TLS the
    /// bytes pass through NIOSSL's buffers and are copied into the array.
    @Test(arguments: [false, true]) func aDoubleArrayArrivesAsItsConsumersArray(tls: Bool) async throws {
        let security = tls ? try Security.temporary() : .insecurePlaintext
        let cluster = try await LocalTestCluster(
            workers: 2, threads: 1, certificates: security.certificateDirectory, workerEnvironment: Self.sharingOff)
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, security: security, setAsDefault: false)
        let count = Self.size / MemoryLayout<Double>.stride
        let consumer = [cluster.workerAddresses[1]]
        let made = try client.submit(Builtins.doubles, count, workers: [cluster.workerAddresses[0]])
        try await client.wait([made])
        // One thread: the second consumer starts after the first has changed its argument.
        let doubled = try client.submit(BulkTasks.doubleInPlace, made, workers: consumer)
        let sum = try client.submit(BulkTasks.sumDoubles, made, workers: consumer)
        let doubledSum = try client.submit(BulkTasks.sumDoubles, doubled, workers: consumer)
        let expected = Double(count * (count - 1) / 2)
        #expect(try await sum.result() == expected)
        #expect(try await doubledSum.result() == 2 * expected)
        #expect(await Self.servedBulk(cluster.workers[0]), "\(cluster.workers[0].log())")
        await client.close()
    }

    /// The bytes of a packed array are read straight into the array its decoder returns.
    @Test func aPackedArrayIsReadIntoTheArrayItDecodesAs() async throws {
        let values = (0..<(3 << 17) + 3).map { Double($0) * 0.5 - 1 }
        let bytes = values.withUnsafeBytes { Array($0) }
        let header = FakeBulkPeer.header("k", bytes: Int64(bytes.count), encoding: .float64Le, typeName: "[Double]")
        let peer = try FakeBulkPeer(answer: header + bytes + Self.endFrame, then: .holdOpen)
        let fetched = try await BulkClient.fetch([TaskKey("k")], from: peer.endpoint, security: .insecurePlaintext)
        let payload = try #require(fetched.values[TaskKey("k")])
        let decoded = try [Double].decode(payload: payload)
        #expect(decoded == values)
        #expect(decoded.withUnsafeBytes { $0.baseAddress } == payload.data.withUnsafeBytes { $0.baseAddress })
    }

    @Test func aLargeValueMovesOverTheBulkStreamWithTLS() async throws {
        let client = try Security.temporary()
        let certificates = try #require(client.certificateDirectory)
        let cluster = try await LocalTestCluster(
            workers: 2, threads: 1, certificates: certificates, workerEnvironment: Self.sharingOff)
        defer { cluster.stop() }
        #expect(try await Self.moveBetweenWorkers(cluster, security: client) == Self.checksum)
        #expect(await Self.servedBulk(cluster.workers[0]), "\(cluster.workers[0].log())")
        // The bulk stream checks roles as GetData does: a scheduler's certificate is refused.
        let key = try #require(HostAndPort(cluster.workerAddresses[0]))
        let error = try await #require(throws: RPCError.self) {
            try await BulkClient.fetch(
                [TaskKey("anything")], from: key, security: certificates.security(for: .scheduler))
        }
        #expect(error.code == .permissionDenied, "\(error)")
        #expect(error.message.contains("drover.v1.Worker/GetData"), "\(error.message)")
    }

    @Test func aClientGathersALargeValueOverTheBulkStream() async throws {
        let cluster = try await LocalTestCluster(workers: 1, threads: 1, workerEnvironment: Self.sharingOff)
        defer { cluster.stop() }
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        let value = try await client.submit(Builtins.data, Self.size).result()
        #expect(value.count == Self.size)
        #expect(Self.checksum(value) == Self.checksum)
        #expect(await Self.servedBulk(cluster.workers[0]), "\(cluster.workers[0].log())")
        await client.close()
    }

    @Test func withTheBulkStreamOffValuesTravelByGetData() async throws {
        var environment = Self.sharingOff
        environment["DROVER_PROTOCOL"] = "grpc"
        let cluster = try await LocalTestCluster(workers: 2, threads: 1, workerEnvironment: environment)
        defer { cluster.stop() }
        #expect(try await Self.moveBetweenWorkers(cluster) == Self.checksum)
        // This process asks for the bulk stream; a worker without one sends the bytes by GetData.
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        let value = try await client.submit(Builtins.data, Self.size).result()
        #expect(Self.checksum(value) == Self.checksum)
        await client.close()
        #expect(!cluster.workers[0].log().contains("served a bulk stream"))
        #expect(!cluster.workers[1].log().contains("served a bulk stream"))
    }

    @Test func aWorkerKeepsServingAfterMalformedBulkStreams() async throws {
        let cluster = try await LocalTestCluster(workers: 1, threads: 1)
        defer { cluster.stop() }
        let endpoint = try #require(HostAndPort(cluster.workerAddresses[0]))
        // A frame of 4 GiB, a request that is not a GetDataRequest, a stream cut off mid-request.
        var huge = WireFrame.preface + [WireStreamKind.bulk.rawValue]
        huge += [0xFF, 0xFF, 0xFF, 0xFF, 1]
        var garbage = WireFrame.preface + [WireStreamKind.bulk.rawValue]
        garbage += [0, 0, 0, 4, 1, 0xFF, 0xFF, 0xFF]
        let cut = WireFrame.preface + [WireStreamKind.bulk.rawValue, 0, 0, 0, 40, 1]
        for bytes in [huge, garbage, cut] {
            try RawConnection.send(bytes, to: endpoint.port)
        }
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        let value = try client.submit(Builtins.data, Self.size)
        try await client.wait([value])
        let fetched = try await BulkClient.fetch(
            [value.key, TaskKey("not-here")], from: endpoint, security: .insecurePlaintext)
        let payload = try #require(fetched.values[value.key])
        #expect(Self.checksum(payload.data) == Self.checksum)
        #expect(fetched.missing[TaskKey("not-here")] != nil)
        #expect(!cluster.workers[0].hasExited)
        await client.close()
    }

    /// Fetches a result of ``size`` bytes (in a memfd segment: sharing is on) from the worker
    /// over its bulk stream, from this process, and checks it arrived whole.
    static func fetchSharedResult(_ cluster: LocalTestCluster, security: Security) async throws {
        let client = try await Client.connect(cluster.address, security: security, setAsDefault: false)
        let value = try client.submit(Builtins.data, size)
        try await client.wait([value])
        let endpoint = try #require(HostAndPort(cluster.workerAddresses[0]))
        // Twice: the second time on the connection kept from the first.
        for _ in 0..<2 {
            let fetched = try await BulkClient.fetch([value.key], from: endpoint, security: security)
            let payload = try #require(fetched.values[value.key])
            #expect(payload.data.count == size)
            #expect(checksum(payload.data) == checksum)
        }
        await client.close()
    }

    @Test func aSharedResultIsSentFromItsMemoryFileOverPlaintext() async throws {
        let cluster = try await LocalTestCluster(workers: 1, threads: 1)
        defer { cluster.stop() }
        try await Self.fetchSharedResult(cluster, security: .insecurePlaintext)
        #expect(
            await SharedMemoryTests.waitUntil { cluster.workers[0].log().contains("sendfile=1") },
            "\(cluster.workers[0].log())")
    }

    @Test func withTLSASharedResultPassesThroughNIOSSL() async throws {
        let client = try Security.temporary()
        let certificates = try #require(client.certificateDirectory)
        let cluster = try await LocalTestCluster(workers: 1, threads: 1, certificates: certificates)
        defer { cluster.stop() }
        try await Self.fetchSharedResult(cluster, security: client)
        #expect(
            await SharedMemoryTests.waitUntil { cluster.workers[0].log().contains("sendfile=0") },
            "\(cluster.workers[0].log())")
    }

    /// Values read straight from the socket stop at their last byte: the next header is intact.
    @Test func valuesBackToBackArriveWhole() async throws {
        let first = (0..<(3 << 20) + 5).map { UInt8(truncatingIfNeeded: $0 % 253) }
        let second = (0..<(1 << 20) + 7).map { UInt8(truncatingIfNeeded: $0 % 241) }
        var answer = FakeBulkPeer.header("a", bytes: Int64(first.count)) + first
        answer += FakeBulkPeer.header("b", bytes: Int64(second.count)) + second
        answer += Self.endFrame
        let peer = try FakeBulkPeer(answer: answer, then: .holdOpen)
        let fetched = try await BulkClient.fetch(
            [TaskKey("a"), TaskKey("b")], from: peer.endpoint, security: .insecurePlaintext)
        #expect(fetched.values[TaskKey("a")]?.data == Data(first))
        #expect(fetched.values[TaskKey("b")]?.data == Data(second))
    }

    static let endFrame: [UInt8] = [0, 0, 0, 1, WireFrame.Kind.end.rawValue]

    /// The peer accepts one connection: the second fetch succeeds only on the first one's.
    @Test func aConnectionIsKeptForTheNextFetch() async throws {
        let value = (0..<(2 << 20)).map { UInt8(truncatingIfNeeded: $0 % 239) }
        let answer = FakeBulkPeer.header("k", bytes: Int64(value.count)) + value + Self.endFrame
        let peer = try FakeBulkPeer(connections: [[answer, answer]], then: .holdOpen)
        for _ in 0..<2 {
            let fetched = try await BulkClient.fetch([TaskKey("k")], from: peer.endpoint, security: .insecurePlaintext)
            #expect(fetched.values[TaskKey("k")]?.data == Data(value))
        }
    }

    /// A kept connection the worker closes when asked again (it restarted) is replaced by a new
    /// one, and the fetch succeeds there.
    @Test func aKeptConnectionThePeerDroppedIsReplaced() async throws {
        let value = [UInt8](repeating: 9, count: 1 << 20)
        let answer = FakeBulkPeer.header("k", bytes: Int64(value.count)) + value + Self.endFrame
        let peer = try FakeBulkPeer(connections: [[answer, nil], [answer]], then: .holdOpen)
        for _ in 0..<2 {
            let fetched = try await BulkClient.fetch([TaskKey("k")], from: peer.endpoint, security: .insecurePlaintext)
            #expect(fetched.values[TaskKey("k")]?.data == Data(value))
        }
    }

    @Test func aPeerDyingMidValueIsAnError() async throws {
        let answer = FakeBulkPeer.header("k", bytes: 8 << 20) + [UInt8](repeating: 7, count: 5 << 20)
        let peer = try FakeBulkPeer(answer: answer, then: .close)
        let error = try await #require(throws: RPCError.self) {
            try await BulkClient.fetch([TaskKey("k")], from: peer.endpoint, security: .insecurePlaintext)
        }
        #expect(error.code == .unavailable, "\(error)")
        #expect(error.message.contains("after 5242880 of the 8388608 bytes of 'k' (truncated)"), "\(error.message)")
    }

    /// The worker queues more than the socket holds; closing right after the end frame would drop
    /// the queued rest (it did: across namespaces values arrived cut short).
    @Test func aReaderThatPausesStillGetsTheWholeValue() async throws {
        let cluster = try await LocalTestCluster(workers: 1, threads: 1)
        defer { cluster.stop() }
        let endpoint = try #require(HostAndPort(cluster.workerAddresses[0]))
        let client = try await Client.connect(cluster.address, setAsDefault: false)
        let size = 32 << 20
        let value = try client.submit(Builtins.data, size)
        try await client.wait([value])
        let request: [UInt8] = try Drover_V1_GetDataRequest.with { $0.keys = [value.key.rawValue] }.serializedBytes()
        let port = endpoint.port
        let read = try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(
                    with: Result { try RawConnection.readPausing(request, valueBytes: size, port: port) })
            }
        }
        #expect(read.value == size)
        #expect(read.end == [0, 0, 0, 1, WireFrame.Kind.end.rawValue])
        await client.close()
    }

    @Test func aPeerAnnouncingMoreThanTheLimitIsRefusedBeforeAllocating() async throws {
        let peer = try FakeBulkPeer(answer: FakeBulkPeer.header("k", bytes: 1 << 40), then: .close)
        let error = try await #require(throws: RPCError.self) {
            try await BulkClient.fetch([TaskKey("k")], from: peer.endpoint, security: .insecurePlaintext)
        }
        #expect(error.code == .resourceExhausted, "\(error)")
        #expect(error.message.contains("announced 1099511627776 bytes for 'k'"), "\(error.message)")
        #expect(error.message.contains("nothing was allocated"), "\(error.message)")
    }

    @Test func aTruncatedStreamIsAnError() async throws {
        let answer = FakeBulkPeer.header("k", bytes: 1 << 20) + [UInt8](repeating: 7, count: 1000)
        let peer = try FakeBulkPeer(answer: answer, then: .close)
        let error = try await #require(throws: RPCError.self) {
            try await BulkClient.fetch([TaskKey("k")], from: peer.endpoint, security: .insecurePlaintext)
        }
        #expect(error.code == .unavailable, "\(error)")
        #expect(error.message.contains("after 1000 of the 1048576 bytes of 'k' (truncated)"), "\(error.message)")
    }

    @Test func aSilentPeerIsAnErrorAtTheDeadline() async throws {
        let answer = FakeBulkPeer.header("k", bytes: 1 << 20) + [UInt8](repeating: 7, count: 1000)
        let peer = try FakeBulkPeer(answer: answer, then: .holdOpen)
        let error = try await #require(throws: RPCError.self) {
            try await BulkClient.fetch(
                [TaskKey("k")], from: peer.endpoint, security: .insecurePlaintext, idleTimeout: .seconds(1))
        }
        #expect(error.code == .deadlineExceeded, "\(error)")
        #expect(error.message.contains("sent nothing on the bulk stream for 1"), "\(error.message)")
    }

    @Test func aRefusalSentBeforeTheRequestIsTheFetchsError() async throws {
        // A worker refusing the asker's certificate says so as soon as the handshake is done,
        // which may be before the asker's fetch has begun: the refusal is its answer all the same.
        let refusal = FakeBulkPeer.status(.permissionDenied, "refused: this certificate's role may not fetch")
        let peer = try FakeBulkPeer(connections: [[nil]], then: .close, greeting: refusal)
        let error = try await #require(throws: RPCError.self) {
            try await BulkClient.fetch([TaskKey("k")], from: peer.endpoint, security: .insecurePlaintext)
        }
        #expect(error.code == .permissionDenied, "\(error)")
        #expect(error.message.contains("this certificate's role may not fetch"), "\(error.message)")
    }

    @Test func aHeaderForAnotherKeyIsAnError() async throws {
        let peer = try FakeBulkPeer(answer: FakeBulkPeer.header("other", bytes: 10), then: .close)
        let error = try await #require(throws: RPCError.self) {
            try await BulkClient.fetch([TaskKey("k")], from: peer.endpoint, security: .insecurePlaintext)
        }
        #expect(error.code == .dataLoss, "\(error)")
        #expect(error.message.contains("it sent 'other' where 'k' was due"), "\(error.message)")
    }
}

/// One connection on loopback that sends `bytes` and reads until the server closes it.
enum RawConnection {
    /// Asks a worker's bulk stream for one value with `request`, waits a second before reading,
    /// then reads the header frame, `valueBytes` of value and the frame after it; returns how much
    /// of the value arrived and that last frame's bytes.
    static func readPausing(_ request: [UInt8], valueBytes: Int, port: Int) throws -> (value: Int, end: [UInt8]) {
        // A small receive buffer: most of the value waits in the worker's own queue.
        let socket = try connected(to: port, receiveBufferBytes: 64 << 10)
        defer { close(socket) }
        let opening = WireFrame.preface + [WireStreamKind.bulk.rawValue]
        _ = opening.withUnsafeBytes { write(socket, $0.baseAddress, $0.count) }
        guard FakeBulkPeer.read(socket, count: 1) == [UInt8(ascii: "P")] else { throw POSIXError(.EPROTO) }
        let frame = withUnsafeBytes(of: UInt32(request.count + 1).bigEndian) { Array($0) } + [1] + request
        _ = frame.withUnsafeBytes { write(socket, $0.baseAddress, $0.count) }
        usleep(1_000_000)
        guard let prefix = FakeBulkPeer.read(socket, count: 4) else { throw POSIXError(.EPROTO) }
        guard FakeBulkPeer.read(socket, count: prefix.reduce(0) { $0 << 8 | Int($1) }) != nil else {
            throw POSIXError(.EPROTO)
        }
        var value = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while value < valueBytes {
            let got = Glibc.read(socket, &buffer, min(buffer.count, valueBytes - value))
            guard got > 0 else { return (value, []) }
            value += got
        }
        return (value, FakeBulkPeer.read(socket, count: 5) ?? [])
    }

    static func connected(to port: Int, receiveBufferBytes: Int32? = nil) throws -> Int32 {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw POSIXError(.EIO) }
        if var bytes = receiveBufferBytes {
            setsockopt(socket, SOL_SOCKET, SO_RCVBUF, &bytes, socklen_t(MemoryLayout<Int32>.size))
        }
        var timeout = timeval(tv_sec: 15, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = FakeBulkPeer.loopback(port: port)
        let isConnected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard isConnected == 0 else {
            close(socket)
            throw POSIXError(.ECONNREFUSED)
        }
        return socket
    }

    static func send(_ bytes: [UInt8], to port: Int) throws {
        let socket = try connected(to: port)
        defer { close(socket) }
        _ = bytes.withUnsafeBytes { write(socket, $0.baseAddress, $0.count) }
        shutdown(socket, Int32(SHUT_WR))
        // Until the worker closes: the answer byte, perhaps a status frame, then end of file.
        var buffer = [UInt8](repeating: 0, count: 4096)
        while read(socket, &buffer, buffer.count) > 0 {}
    }
}

/// A scripted bulk peer on loopback: accepts connections one after another, and on each reads the
/// preface, answers "plaintext", then for each of its answers reads a request and writes the
/// answer (nil: closes the connection instead, as a worker that went away); after the last
/// connection's answers it closes or holds the connection open until the asker closes it.
final class FakeBulkPeer: Sendable {
    enum Then: Sendable { case close, holdOpen }

    let endpoint: HostAndPort

    convenience init(answer: [UInt8], then: Then) throws {
        try self.init(connections: [[answer]], then: then)
    }

    /// `greeting`: written on each connection right after the preface's answer, before any request
    /// is read (a worker refusing a certificate at the handshake does that).
    init(connections: [[[UInt8]?]], then: Then, greeting: [UInt8] = []) throws {
        let listener = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = Self.loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && listen(listener, 1) == 0 && getsockname(listener, $0, &length) == 0
            }
        }
        guard listener >= 0, bound else { throw POSIXError(.EADDRNOTAVAIL) }
        endpoint = HostAndPort(host: "127.0.0.1", port: Int(UInt16(bigEndian: address.sin_port)))
        Thread.detachNewThread {
            defer { close(listener) }
            for (index, answers) in connections.enumerated() {
                let connection = accept(listener, nil, nil)
                guard connection >= 0 else { return }
                defer { close(connection) }
                guard Self.serve(connection, answers: answers, greeting: greeting) else { continue }
                if index == connections.count - 1, then == .holdOpen {
                    var buffer = [UInt8](repeating: 0, count: 4096)
                    while Glibc.read(connection, &buffer, buffer.count) > 0 {}
                }
            }
        }
    }

    /// Answers the requests on one connection; false when it stopped early.
    private static func serve(_ connection: Int32, answers: [[UInt8]?], greeting: [UInt8]) -> Bool {
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard read(connection, count: WireFrame.preface.count + 1) != nil else { return false }
        _ = write(connection, "P", 1)
        if !greeting.isEmpty { _ = greeting.withUnsafeBytes { write(connection, $0.baseAddress, $0.count) } }
        for answer in answers {
            guard let prefix = read(connection, count: 4) else { return false }
            let length = prefix.reduce(0) { $0 << 8 | Int($1) }
            guard read(connection, count: length) != nil, let answer else { return false }
            _ = answer.withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
        }
        return true
    }

    /// A status frame: the worker ends the stream with `code` and `message`.
    static func status(_ code: RPCError.Code, _ message: String) -> [UInt8] {
        let body = withUnsafeBytes(of: UInt32(code.rawValue).bigEndian) { Array($0) } + Array(message.utf8)
        return withUnsafeBytes(of: UInt32(body.count + 1).bigEndian) { Array($0) } + [3] + body
    }

    /// A header frame announcing `bytes` bytes for `key`.
    static func header(
        _ key: String, bytes: Int64, encoding: Drover_V1_Encoding = .unspecified, typeName: String = ""
    ) -> [UInt8] {
        let chunk = Drover_V1_DataChunk.with {
            $0.key = key
            $0.totalBytes = bytes
            $0.last = true
            $0.encoding = encoding
            $0.typeName = typeName
        }
        let body: [UInt8] = try! chunk.serializedBytes()
        let length = UInt32(body.count + 1)
        return withUnsafeBytes(of: length.bigEndian) { Array($0) } + [1] + body
    }

    static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    static func read(_ socket: Int32, count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let got = bytes.withUnsafeMutableBytes { Glibc.read(socket, $0.baseAddress! + filled, count - filled) }
            guard got > 0 else { return nil }
            filled += got
        }
        return bytes
    }
}
