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
            case .v4(let v4):
                var raw = v4.address
                self.address = withUnsafeBytes(of: &raw.sin_addr) { Array($0) }
                port = UInt16(bigEndian: raw.sin_port)
            case .v6(let v6):
                var raw = v6.address
                self.address = withUnsafeBytes(of: &raw.sin6_addr) { Array($0) }
                port = UInt16(bigEndian: raw.sin6_port)
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
            switch Int32(storage.ss_family) {
            case AF_INET:
                let raw = withUnsafeBytes(of: storage) { $0.load(as: sockaddr_in.self) }
                address = withUnsafeBytes(of: raw.sin_addr) { Array($0) }
                port = UInt16(bigEndian: raw.sin_port)
            case AF_INET6:
                let raw = withUnsafeBytes(of: storage) { $0.load(as: sockaddr_in6.self) }
                address = withUnsafeBytes(of: raw.sin6_addr) { Array($0) }
                port = UInt16(bigEndian: raw.sin6_port)
            default:
                return nil
            }
        }
    }
}
