import CDroverSupport
import DroverCore
import DroverLocal
import DroverProto
import Foundation
import Glibc
import Synchronization

/// Hands this worker's ``SharedSegment``s to workers of the same host: a listening Unix socket in
/// the abstract namespace (no file to clean up; visible in this network namespace only) served
/// by a thread of its own.
///
/// A request is 8 bytes, the segment's number (little-endian); the answer is one byte (1: here
/// it is, 0: no such segment) and, with 1, the memfd (`SCM_RIGHTS`). The server answers only a
/// peer of its own user (`SO_PEERCRED`), and the client only believes a server of its own user:
/// another user on the host can neither take a segment nor pose as its producer. Every exchange
/// has a deadline of ``timeout``, so a peer that stops talking holds the thread that long at most.
final class SegmentServer: Sendable {
    /// The socket's abstract name, given to peers in `DataChunk.shared`.
    let name: String
    private let listener: Int32
    private let segments = Mutex<[UInt64: SharedSegment]>([:])
    private let nextNumber = Atomic<UInt64>(1)

    /// How long one exchange may take, on either side.
    static let timeout = Duration.seconds(5)

    /// Starts listening and serving.
    ///
    /// - Throws: ``SharedMemoryError`` when the socket cannot be made.
    init() throws(SharedMemoryError) {
        name = "drover-segments-\(getpid())-\(Drover.unguessableSuffix())"
        listener = drover_unix_listen(name)
        guard listener >= 0 else { throw .system(errno, "cannot listen on the segment socket") }
        let thread = Thread { [self] in serve() }
        thread.name = "drover-segments"
        thread.start()
    }

    /// Stops serving: the thread leaves its `accept` and the socket closes.
    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
    }

    /// Offers `segment` to peers; returns the number they ask for it by.
    func register(_ segment: SharedSegment) -> UInt64 {
        let number = nextNumber.wrappingAdd(1, ordering: .relaxed).oldValue
        segments.withLock { $0[number] = segment }
        return number
    }

    /// The segment registered as `number`, if it still is.
    func segment(_ number: UInt64) -> SharedSegment? {
        segments.withLock { $0[number] }
    }

    /// Withdraws a segment: its memory is freed once no peer maps it.
    func unregister(_ number: UInt64) {
        _ = segments.withLock { $0.removeValue(forKey: number) }
    }

    private func serve() {
        while true {
            let connection = drover_accept(listener)
            if connection < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                break
            }
            answer(connection)
            close(connection)
        }
        close(listener)
    }

    private func answer(_ connection: Int32) {
        var uid: UInt32 = 0
        var pid: Int32 = 0
        guard drover_socket_timeout(connection, Self.milliseconds(Self.timeout)) == 0,
            drover_peer_credentials(connection, &uid, &pid) == 0, uid == geteuid()
        else { return }
        var request = [UInt8](repeating: 0, count: 8)
        var unused: Int32 = -1
        let received = request.withUnsafeMutableBytes {
            drover_receive_with_descriptor(connection, $0.baseAddress, 8, &unused)
        }
        if unused >= 0 { close(unused) }
        guard received == 8 else { return }
        let number = request.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * $1.offset) }
        // Holding the segment keeps its descriptor open while it is sent, even if it is withdrawn meanwhile.
        let segment = segments.withLock { $0[number] }
        var status: UInt8 = segment == nil ? 0 : 1
        _ = drover_send_with_descriptor(connection, &status, 1, segment?.descriptor ?? -1)
        withExtendedLifetime(segment) {}
    }

    static func milliseconds(_ duration: Duration) -> Int32 {
        Int32(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }

    // MARK: - The client side

    /// Asks the worker serving `reference.socket` for segment `reference.segment` and checks it
    /// (a sealed memory file of the announced length). Blocks for at most ``timeout`` per step:
    /// call it from a thread of its own.
    ///
    /// - Throws: ``SharedMemoryError`` naming what failed; the caller then asks for the bytes.
    static func fetch(_ reference: SharedValue) throws(SharedMemoryError) -> SharedSegment {
        let connection = drover_unix_connect(reference.socket, milliseconds(timeout))
        guard connection >= 0 else { throw .system(errno, "cannot connect to segment socket \(reference.socket)") }
        defer { close(connection) }
        var uid: UInt32 = 0
        var pid: Int32 = 0
        guard drover_peer_credentials(connection, &uid, &pid) == 0 else {
            throw .system(errno, "cannot read the credentials of segment socket \(reference.socket)")
        }
        guard uid == geteuid() else {
            throw SharedMemoryError(
                message: "segment socket \(reference.socket) is served by user \(uid), not this worker's user")
        }
        var request = (0..<8).map { UInt8(truncatingIfNeeded: reference.segment >> (8 * $0)) }
        guard drover_send_with_descriptor(connection, &request, 8, -1) == 8 else {
            throw .system(errno, "cannot ask segment socket \(reference.socket)")
        }
        var status: UInt8 = 0
        var descriptor: Int32 = -1
        let received = drover_receive_with_descriptor(connection, &status, 1, &descriptor)
        guard received == 1, status == 1, descriptor >= 0 else {
            if descriptor >= 0 { close(descriptor) }
            throw received < 0
                ? .system(errno, "no answer from segment socket \(reference.socket)")
                : SharedMemoryError(message: "the producer no longer holds segment \(reference.segment)")
        }
        return try SharedSegment.adopt(descriptor: descriptor, length: Int(reference.totalBytes))
    }

    /// Maps `references` on a thread of their own (each step blocks up to ``timeout``); a value
    /// that cannot be mapped is left out, and the caller asks for its bytes instead.
    static func map(_ references: [SharedValue]) async -> [TaskKey: Payload] {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var values: [TaskKey: Payload] = [:]
                for reference in references {
                    guard let segment = try? fetch(reference), let data = try? segment.map() else { continue }
                    values[reference.key] = Payload(
                        encoding: reference.encoding, data: data, typeName: reference.typeName)
                }
                continuation.resume(returning: values)
            }
        }
    }
}

/// The host identity a worker puts in `GetDataRequest.shared_memory_host`: its boot id, network
/// namespace and user. Two workers with the same one can share memory; network-namespace "hosts"
/// of one machine and workers of different users cannot, and use the bytes.
enum SharedMemoryHost {
    static let current: String = {
        let bootID =
            (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        var buffer = [CChar](repeating: 0, count: 256)
        let count = readlink("/proc/self/ns/net", &buffer, buffer.count - 1)
        let namespace =
            count > 0 ? String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        guard !bootID.isEmpty, !namespace.isEmpty else { return "" }
        return "\(bootID)/\(namespace)/\(geteuid())"
    }()
}
