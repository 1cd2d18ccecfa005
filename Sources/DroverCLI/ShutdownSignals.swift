import Foundation
import Synchronization

/// Calls `handler` on the first SIGTERM or SIGINT instead of dying (a graceful stop); a second one
/// ends the process at once with 128 + the signal. (Dispatch keeps receiving a signal it watches,
/// so restoring the default action and raising it again would not end the process.)
final class ShutdownSignals {
    private let sources: [any DispatchSourceSignal]

    init(_ handler: @escaping @Sendable () -> Void) {
        let received = Atomic<Bool>(false)
        sources = [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                if received.exchange(true, ordering: .acquiringAndReleasing) { exit(128 + number) }
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
