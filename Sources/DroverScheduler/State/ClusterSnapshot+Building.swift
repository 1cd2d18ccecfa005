import DroverCore

extension ClusterSnapshot {
    /// The task states' names, as the snapshot and the metrics spell them.
    public static let taskStateNames = ["released", "waiting", "queued", "no-worker", "processing", "memory", "erred"]

    /// Takes a snapshot of `state` and `history` at `time` (seconds since 1970), with the task
    /// executions numbered `cursor` or later.
    ///
    /// Counts every task once: O(tasks + workers + the rings' contents).
    public init(state: SchedulerState, history: ClusterHistory, time: Double, taskStreamSince cursor: Int = 0) {
        var byFunction: [String: FunctionProgress] = [:]
        var byState = [Int](repeating: 0, count: Self.taskStateNames.count)
        for task in state.tasks.values {
            let index = Self.stateIndex(task.state)
            byState[index] += 1
            let function = task.function
            var progress = byFunction[function] ?? FunctionProgress(function: function)
            switch task.state {
            case .released: progress.released += 1
            case .waiting, .queued, .noWorker: progress.waiting += 1
            case .processing: progress.processing += 1
            case .memory: progress.memory += 1
            case .erred: progress.erred += 1
            }
            progress.total += 1
            if task.state == .released || task.state == .memory || task.state == .erred { progress.done += 1 }
            byFunction[function] = progress
        }
        let workers = state.workers.values.sorted { $0.id < $1.id }.map {
            Worker(record: $0, exits: history.exits[$0.id])
        }
        self.time = time
        self.workers = workers
        self.functions = byFunction.values.sorted { $0.function < $1.function }
        self.totals = Totals(
            workers: workers.count,
            threads: workers.reduce(0) { $0 + $1.threads },
            clients: state.clientCount,
            tasks: state.tasks.count,
            tasksByState: Dictionary(uniqueKeysWithValues: zip(Self.taskStateNames, byState)),
            memoryBytes: workers.reduce(0) { $0 + $1.memoryBytes },
            managedBytes: workers.reduce(0) { $0 + $1.managedBytes },
            spilledBytes: workers.reduce(0) { $0 + $1.spilledBytes },
            memoryLimit: workers.reduce(0) { $0 + $1.memoryLimit },
            executing: workers.reduce(0) { $0 + $1.executing },
            restarts: workers.reduce(0) { $0 + $1.restarts })
        self.events = history.recentEvents
        self.taskStream = history.executions(since: cursor)
        self.taskStreamCursor = history.executionCursor
    }

    private static func stateIndex(_ state: TaskRecord.State) -> Int {
        switch state {
        case .released: 0
        case .waiting: 1
        case .queued: 2
        case .noWorker: 3
        case .processing: 4
        case .memory: 5
        case .erred: 6
        }
    }
}

extension ClusterSnapshot.Worker {
    init(record: WorkerRecord, exits: ClusterHistory.Exits?) {
        self.id = record.id.rawValue
        self.address = record.address
        self.nanny = record.nanny
        self.threads = record.threads
        self.memoryLimit = record.memoryLimit
        self.memoryBytes = record.memoryBytes
        self.managedBytes = record.reportedManagedBytes
        self.unmanagedBytes = max(0, record.memoryBytes - record.reportedManagedBytes)
        self.spilledBytes = record.spilledBytes
        self.status =
            switch record.status {
            case .running: "running"
            case .paused: "paused"
            case .closing: "closing"
            }
        self.isRetiring = record.isRetiring
        self.processing = record.processingCount
        self.executing = record.executing
        self.held = record.heldCount
        self.occupancy = record.occupancy
        self.restarts = exits?.restarts ?? 0
        self.lastExitCause = exits?.lastCause ?? ""
        self.restartsByKind = exits?.byKind ?? [:]
        self.transfers = record.transfers
    }
}
