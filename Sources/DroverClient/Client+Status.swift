public import DroverCore
public import DroverProto
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
        /// Tasks running on it now, from its last heartbeat.
        public var executing = 0
        /// Times its nanny restarted it, and why it last died (empty when never).
        public var restarts = 0
        public var lastExitCause = ""
        /// Bytes of task inputs it fetched from other workers, and sent to them.
        public var incomingTransferBytes: Int64 = 0
        public var outgoingTransferBytes: Int64 = 0
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
        return ClusterStatus(response)
    }
}

extension ClusterStatus {
    /// Asks the scheduler at `address` for the state of the cluster, without connecting a client
    /// (so it does not count among the cluster's clients).
    ///
    /// - Parameters:
    ///   - address: The scheduler's `host:port`.
    ///   - timeout: How long the scheduler has to answer, connecting included.
    /// - Throws: ``ClientError`` when the address is not `host:port`, the scheduler does not answer
    ///   within `timeout`, or the call fails.
    public static func fetch(
        from address: String, security: Security = .insecurePlaintext, timeout: Duration = .seconds(5)
    ) async throws -> ClusterStatus {
        let endpoint = try Client.schedulerEndpoint(address, security: security)
        var options = TransportLimits.callOptions
        options.timeout = timeout
        do {
            let response = try await withGRPCClient(
                transport: try Transports.makeClient(to: endpoint, security: security)
            ) { grpc in
                try await Drover_V1_Scheduler.Client(wrapping: grpc).identity(
                    Drover_V1_IdentityRequest(), options: options)
            }
            return ClusterStatus(response)
        } catch let error as RPCError where error.code == .deadlineExceeded {
            throw ClientError(message: "The scheduler at \(address) did not answer within \(timeout).")
        } catch let error as RPCError {
            if let mismatch = await ConnectionDiagnosis.explain(
                endpoint, role: "scheduler", security: security, error: error)
            {
                throw ClientError(message: mismatch)
            }
            throw ClientError(message: "The scheduler at \(address) did not answer: \(error.message)")
        }
    }

    init(_ response: Drover_V1_IdentityResponse) {
        self.init(
            workers: response.workerInfo.map {
                .init(
                    id: WorkerID($0.id), address: $0.address, threads: Int($0.threads),
                    processing: Int($0.processing), held: Int($0.held), memoryLimit: $0.memoryLimit,
                    memoryBytes: $0.memoryBytes, managedBytes: $0.managedBytes, spilledBytes: $0.spilledBytes,
                    isPaused: $0.paused, status: $0.status, nanny: $0.nanny, executing: Int($0.executing),
                    restarts: Int($0.restarts), lastExitCause: $0.lastExitCause,
                    incomingTransferBytes: $0.incomingTransferBytes, outgoingTransferBytes: $0.outgoingTransferBytes
                )
            },
            tasks: Int(response.tasks),
            clients: Int(response.clients)
        )
    }
}
