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
    }

    /// Asks a worker's nanny to kill it (the scheduler removed it as hung), without waiting for the
    /// answer: the call has a deadline, and a nanny that does not answer is only logged.
    func askNannyToKill(_ worker: WorkerID, address: String, nanny: String, reason: String) {
        guard let endpoint = HostAndPort(nanny) else {
            logger.warning("cannot reach the nanny of a removed worker", metadata: ["nanny": "\(nanny)"])
            return
        }
        let logger = self.logger
        let security = self.security
        Task {
            var options = CallOptions.defaults
            options.timeout = .seconds(5)
            do {
                let killed = try await withGRPCClient(
                    transport: try Transports.makeClient(to: endpoint, security: security)
                ) { client in
                    try await Drover_V1_Nanny.Client(wrapping: client).killWorker(
                        .with {
                            $0.workerID = worker.rawValue
                            $0.address = address
                            $0.reason = reason
                        }, options: options
                    ).killed
                }
                logger.info(
                    killed ? "nanny killed a removed worker" : "nanny had no such worker",
                    metadata: ["worker.id": "\(worker)", "nanny": "\(nanny)"])
            } catch {
                logger.warning(
                    "could not ask a nanny to kill a removed worker",
                    metadata: ["worker.id": "\(worker)", "nanny": "\(nanny)", "error": "\(error)"])
            }
        }
    }

    /// Asks a nanny to stop (the cluster is shutting down), without waiting for the answer.
    func askNannyToStop(_ nanny: String, reason: String) {
        guard let endpoint = HostAndPort(nanny) else { return }
        let logger = self.logger
        let security = self.security
        Task {
            var options = CallOptions.defaults
            options.timeout = .seconds(5)
            do {
                _ = try await withGRPCClient(
                    transport: try Transports.makeClient(to: endpoint, security: security)
                ) { client in
                    try await Drover_V1_Nanny.Client(wrapping: client).shutdown(.init(), options: options)
                }
                logger.info("nanny stopping", metadata: ["nanny": "\(nanny)", "reason": "\(reason)"])
            } catch {
                logger.warning("could not ask a nanny to stop", metadata: ["nanny": "\(nanny)", "error": "\(error)"])
            }
        }
    }
}
