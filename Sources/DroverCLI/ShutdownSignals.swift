import Foundation
import Synchronization

/// Calls `handler` on the first SIGTERM or SIGINT instead of dying (a graceful stop); a SIGINT after
/// that (Ctrl-C twice) ends the process at once with 130. A repeated SIGTERM changes nothing: a
/// supervisor escalates with SIGKILL, and a child of a local cluster may be sent SIGTERM twice (by
/// its parent's `close()` and by the parent-death signal) without losing its drain and cleanup.
/// (Dispatch keeps receiving a signal it watches, so restoring the default action and raising it
/// again would not end the process.)
final class ShutdownSignals {
    private let sources: [any DispatchSourceSignal]

    init(_ handler: @escaping @Sendable () -> Void) {
        let received = Atomic<Bool>(false)
        sources = [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                if received.exchange(true, ordering: .acquiringAndReleasing) {
                    if number == SIGINT { exit(128 + number) }
                    return
                }
                handler()
            }
            source.resume()
            return source
        }
    }

    func cancel() {
        for source in sources { source.cancel() }
    }
}
