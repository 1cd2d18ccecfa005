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
        /// Its memory limit in bytes (0: none).
        public var memoryLimit: Int64 = 0
        /// Its process's resident memory, and the bytes of results in memory and on disk, from its
        /// last heartbeat.
        public var memoryBytes: Int64 = 0
        public var managedBytes: Int64 = 0
        public var spilledBytes: Int64 = 0
        /// Paused for memory: runs nothing new, still serves its data.
        public var isPaused = false
        /// "running", "paused" or "closing".
        public var status = "running"
        /// Its nanny's address; empty when it has none.
        public var nanny = ""
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
                    processing: Int($0.processing), held: Int($0.held), memoryLimit: $0.memoryLimit,
                    memoryBytes: $0.memoryBytes, managedBytes: $0.managedBytes, spilledBytes: $0.spilledBytes,
                    isPaused: $0.paused, status: $0.status, nanny: $0.nanny
                )
            },
            tasks: Int(response.tasks),
            clients: Int(response.clients)
        )
    }
}
