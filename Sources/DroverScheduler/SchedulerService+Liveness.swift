import CDroverSupport
import DroverCore
import DroverProto
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import SwiftProtobuf

extension SchedulerService {
    /// How often the state machine's clock ticks: silent workers and unanswered steals are noticed
    /// within this of their deadline.
    static let tickInterval = Duration.milliseconds(250)

    /// Ticks the state machine's clock until cancelled (``SchedulerState/Event/clockTicked``).
    public func runClock() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: Self.tickInterval)
            tick()
        }
    }

    func tick() {
        apply([.clockTicked])
        if trimPolicy.shouldTrimOnTick() { _ = drover_release_free_memory() }
    }

    /// Asks a worker's nanny to kill it (the scheduler removed it as hung), without waiting for the
    /// answer: the call has a deadline, and a nanny that does not answer is only logged.
    func askNannyToKill(_ worker: WorkerID, address: String, nanny: String, reason: String) {
        callNanny(nanny, about: ["worker.id": "\(worker)"], failure: "could not ask a nanny to kill a removed worker") {
            nanny, options in
            let killed = try await nanny.killWorker(
                .with {
                    $0.workerID = worker.rawValue
                    $0.address = address
                    $0.reason = reason
                }, options: options
            ).killed
            return killed ? "nanny killed a removed worker" : "nanny had no such worker"
        }
    }

    /// Asks a nanny to stop (the cluster is shutting down), without waiting for the answer.
    func askNannyToStop(_ nanny: String, reason: String) {
        callNanny(nanny, about: ["reason": "\(reason)"], failure: "could not ask a nanny to stop") { nanny, options in
            _ = try await nanny.shutdown(.init(), options: options)
            return "nanny stopping"
        }
    }

    /// Makes one call to the nanny at `address` in a task of its own, over the scheduler's TLS and
    /// with a 5 s deadline, and logs what `call` says it did, or `failure`.
    private func callNanny(
        _ address: String, about metadata: Logger.Metadata, failure: Logger.Message,
        _ call:
            @escaping @Sendable (Drover_V1_Nanny.Client<HTTP2ClientTransport.Posix>, CallOptions) async throws
            -> Logger.Message
    ) {
        var metadata = metadata
        metadata["nanny"] = "\(address)"
        guard let endpoint = HostAndPort(address) else {
            logger.warning(failure, metadata: metadata.merging(["error": "not a host:port address"]) { $1 })
            return
        }
        let logger = self.logger
        let security = self.security
        Task { [metadata] in
            var options = CallOptions.defaults
            options.timeout = .seconds(5)
            do {
                let done = try await withGRPCClient(
                    transport: try Transports.makeClient(to: endpoint, security: security)
                ) { client in
                    try await call(Drover_V1_Nanny.Client(wrapping: client), options)
                }
                logger.info(done, metadata: metadata)
            } catch {
                logger.warning(failure, metadata: metadata.merging(["error": "\(error)"]) { $1 })
            }
        }
    }
}
