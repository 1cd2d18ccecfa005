public import Logging
/// Which certificate role may call which method: the one table every Drover server checks on
/// every call when TLS is on.
///
/// | method | roles |
/// |---|---|
/// | `Scheduler.WorkerStream` | worker |
/// | `Scheduler.ClientStream` | client, worker (the client a worker's tasks share, as in Dask) |
/// | `Scheduler.Identity` | any |
/// | `Scheduler.ReportWorkerExit` | nanny (and only for workers it registered: the scheduler checks) |
/// | `Worker.GetData` | worker (a peer fetching inputs), client (gather) |
/// | `Worker.PutData` | client (scatter), worker (a peer replicating) |
/// | `Nanny.Status` | client, scheduler, nanny |
/// | `Nanny.KillWorker` | scheduler |
/// | `Nanny.Shutdown` | scheduler (a client's `shutdown()` goes through the scheduler) |
///
/// A method not in the table is refused: a new method must be added here to be callable.
public enum AccessPolicy {
    /// What the table says about one call.
    public enum Decision: Sendable, Equatable {
        case allowed
        /// Refused, with the sentence the caller gets (`permissionDenied`).
        case refused(String)
    }

    /// The roles allowed to call each method, by `service/method` (as in `MethodDescriptor`).
    public static let table: [String: Set<Role>] = [
        "drover.v1.Scheduler/WorkerStream": [.worker],
        // A worker too: tasks that submit tasks use their worker's certificate (Client.forCurrentTask).
        "drover.v1.Scheduler/ClientStream": [.client, .worker],
        "drover.v1.Scheduler/Identity": Set(Role.allCases),
        "drover.v1.Scheduler/ReportWorkerExit": [.nanny],
        "drover.v1.Worker/GetData": [.worker, .client],
        "drover.v1.Worker/PutData": [.worker, .client],
        "drover.v1.Nanny/Status": [.client, .scheduler, .nanny],
        "drover.v1.Nanny/KillWorker": [.scheduler],
        "drover.v1.Nanny/Shutdown": [.scheduler],
    ]

    /// Whether a peer whose certificate names `roles` may call `method` (`service/method`).
    ///
    /// - Parameters:
    ///   - roles: The roles the peer's certificate names (empty: a certificate naming none).
    ///   - method: The method, as `drover.v1.Scheduler/WorkerStream`.
    public static func decide(roles: Set<Role>, method: String) -> Decision {
        guard let allowed = table[method] else {
            return .refused("\(method) is not a method any certificate may call.")
        }
        if !roles.isDisjoint(with: allowed) { return .allowed }
        let needed = allowed.map(\.rawValue).sorted().joined(separator: " or ")
        let held = roles.isEmpty ? "no role" : roles.map(\.rawValue).sorted().joined(separator: ", ")
        return .refused("\(method) needs a \(needed) certificate; the caller's names \(held).")
    }

    /// ``decide(roles:method:)``, with a refusal logged at warning with the caller's address and
    /// certificate subject: the one check every server (gRPC and wire) makes.
    ///
    /// - Returns: The refusal's reason, or nil when the call is allowed.
    public static func refusal(
        of method: String, roles: Set<Role>, subject: String, peer: String, logger: Logger
    ) -> String? {
        guard case .refused(let reason) = decide(roles: roles, method: method) else { return nil }
        logger.warning(
            "refused a call",
            metadata: [
                "rpc.method": "\(method)", "peer.address": "\(peer)", "peer.certificate": "\(subject)",
                "reason": "\(reason)",
            ])
        return reason
    }
}
