public import DroverCore
import DroverProto
import GRPCCore
import GRPCNIOTransportHTTP2

/// What the scheduler reports about the cluster.
public struct ClusterStatus: Sendable, Hashable {
    /// One worker as the scheduler sees it.
    public struct Worker: Sendable, Hashable {
        public var id: WorkerID
        public var address: String
        public var threads: Int
        /// Tasks assigned and not yet reported back.
        public var processing: Int
        /// Results it holds.
        public var held: Int
    }

    public var workers: [Worker]
    /// Tasks the scheduler tracks (waiting, running, or held for a future).
    public var tasks: Int
    public var clients: Int
}

extension Client {
    /// Asks the scheduler for the state of the cluster.
    public func status() async throws -> ClusterStatus {
        let response = try await Drover_V1_Scheduler.Client(wrapping: schedulerClient).identity(
            Drover_V1_IdentityRequest())
        return ClusterStatus(
            workers: response.workerInfo.map {
                .init(
                    id: WorkerID($0.id), address: $0.address, threads: Int($0.threads),
                    processing: Int($0.processing), held: Int($0.held)
                )
            },
            tasks: Int(response.tasks),
            clients: Int(response.clients)
        )
    }
}
