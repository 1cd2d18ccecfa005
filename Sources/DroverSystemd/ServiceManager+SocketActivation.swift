import CSystemd
import Glibc

extension ServiceManager {
    /// The listening socket the service manager passed (socket activation), or nil when it passed
    /// none.
    ///
    /// Calls `sd_listen_fds(1)`, which also removes `$LISTEN_FDS`, `$LISTEN_PID` and
    /// `$LISTEN_FDNAMES` from the environment so child processes don't take the socket for theirs.
    /// Call it first thing, before other threads read the environment.
    ///
    /// - Returns: The descriptor (`SD_LISTEN_FDS_START`), or nil.
    /// - Throws: ``SystemdError`` with code ``SystemdError/Code/socketActivationFailed`` when more
    ///   than one descriptor was passed, or the one passed is not a listening stream socket.
    public static func listeningSocket() throws(SystemdError) -> Int32? {
        try listeningSocket(count: sd_listen_fds(1), first: SD_LISTEN_FDS_START)
    }

    /// Checks what `sd_listen_fds` returned (`count`) and the descriptor at `first`.
    static func listeningSocket(count: Int32, first: Int32) throws(SystemdError) -> Int32? {
        guard count >= 0 else {
            throw SystemdError(
                code: .socketActivationFailed, message: "The sockets in $LISTEN_FDS could not be read.", errno: -count)
        }
        guard count <= 1 else {
            throw SystemdError(
                code: .socketActivationFailed,
                message: "The service manager passed \(count) sockets; drover takes exactly one listening socket.")
        }
        guard count == 1 else { return nil }
        let result = sd_is_socket(first, AF_UNSPEC, Int32(SOCK_STREAM.rawValue), 1)
        guard result > 0 else {
            throw SystemdError(
                code: .socketActivationFailed,
                message: "The descriptor the service manager passed (\(first)) is not a listening stream socket; "
                    + "use ListenStream= (not ListenDatagram=, and Accept=no).",
                errno: result < 0 ? -result : nil)
        }
        return first
    }
}
