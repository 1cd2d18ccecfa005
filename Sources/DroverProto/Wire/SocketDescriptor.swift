import Glibc
import NIOCore

/// The descriptor of a connected TCP channel, for reading a bulk value's bytes straight into its
/// buffer (see ``BulkReceiver``).
///
/// NIO does not hand out a channel's descriptor, so this finds it by its address pair: the
/// socket among this process's descriptors whose local and peer addresses are the channel's (a
/// connected TCP socket's pair is unique in its network namespace). Only use the result on the
/// channel's event loop while the channel is active: NIO closes the descriptor on that loop, so
/// an active channel's descriptor is still its own.
enum SocketDescriptor {
    /// The channel's descriptor, or nil when it is not a connected IP socket of this process.
    static func find(for channel: any Channel) -> CInt? {
        guard let local = channel.localAddress.flatMap(Endpoint.init),
            let remote = channel.remoteAddress.flatMap(Endpoint.init),
            let directory = opendir("/proc/self/fd")
        else { return nil }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let descriptor = CInt(name), descriptor != dirfd(directory) else { continue }
            if Endpoint(descriptor, peer: false) == local, Endpoint(descriptor, peer: true) == remote {
                return descriptor
            }
        }
        return nil
    }

    /// An IP address and port, as raw bytes.
    private struct Endpoint: Equatable {
        var address: [UInt8]
        var port: UInt16

        init?(_ address: SocketAddress) {
            switch address {
            // By offset in `sockaddr_in`/`sockaddr_in6` (family, port in network order, then the
            // address: after 4 bytes, or after 8 with IPv6's flow label): NIO's copies of these
            // structures come from a module whose members Drover does not import.
            case .v4(let v4):
                let raw = withUnsafeBytes(of: v4.address) { Array($0) }
                self.address = Array(raw[4..<8])
                port = UInt16(raw[2]) << 8 | UInt16(raw[3])
            case .v6(let v6):
                let raw = withUnsafeBytes(of: v6.address) { Array($0) }
                self.address = Array(raw[8..<24])
                port = UInt16(raw[2]) << 8 | UInt16(raw[3])
            default:
                return nil
            }
        }

        /// The socket's own (or its peer's) address; nil for anything but an IP socket.
        init?(_ descriptor: CInt, peer: Bool) {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let status = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    peer ? getpeername(descriptor, $0, &length) : getsockname(descriptor, $0, &length)
                }
            }
            guard status == 0 else { return nil }
            let raw = withUnsafeBytes(of: storage) { Array($0) }
            let family = withUnsafeBytes(of: storage) { $0.load(as: sa_family_t.self) }
            switch Int32(family) {
            case AF_INET:
                address = Array(raw[4..<8])
                port = UInt16(raw[2]) << 8 | UInt16(raw[3])
            case AF_INET6:
                address = Array(raw[8..<24])
                port = UInt16(raw[2]) << 8 | UInt16(raw[3])
            default:
                return nil
            }
        }
    }
}
