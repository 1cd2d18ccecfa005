public import DroverCore

/// A worker's own decisions, with no IO (not to be confused with the scheduler's `WorkerRecord`):
/// which task runs next on which thread, which inputs to fetch from which peer, what to tell the
/// scheduler, what to forget. Dask's `worker_state_machine`, in Swift.
///
/// A task the scheduler assigns waits (`waiting`) until every input is here, either computed here
/// or fetched from a peer (`fetch` → `flight` → `memory`), then is `ready`, then `executing` on one
/// of `threads` slots, then `memory`. Inputs fetched only for local tasks are dropped once no
/// local task needs them. While paused (memory short) no new task starts; everything else goes on.
///
/// An executing task may leave its slot (`seceded`, Dask's `secede()`: it waits on tasks it
/// submitted) and another ready task takes it; the scheduler hears of it (`reportSeceded`). It
/// stays `executing`, counted against no slot, until it finishes or asks for a slot back
/// (`rejoinRequested`): it gets one (`rejoin`) as soon as one is free, before any ready task.
/// Keys the scheduler asks it to copy (`replicateRequested`) are fetched like inputs and reported
/// with `reportAcquired` once here.
public struct WorkerState: Sendable {
    /// What a key is doing here.
    public enum TaskState: Sendable, Hashable {
        /// An input to fetch from a peer.
        case fetch
        /// An input being fetched.
        case flight
        /// Assigned, waiting for inputs.
        case waiting
        /// Inputs here, waiting for a thread.
        case ready
        case executing
        case memory
    }

    /// A key known to this worker.
    public struct Record: Sendable, Hashable {
        public internal(set) var state: TaskState
        /// For assigned tasks: the spec to run.
        public internal(set) var spec: TaskSpec?
        public internal(set) var priority: TaskPriority?
        /// Inputs not yet here (while waiting).
        public internal(set) var waitingOn: Set<TaskKey> = []
        /// Local tasks that need this key as an input.
        public internal(set) var neededBy: Set<TaskKey> = []
        /// Peers that hold it (for inputs), in order of preference.
        public internal(set) var holders: [String] = []
        /// Whether the scheduler asked for this key here (a result it tracks), as opposed to an
        /// input fetched for local tasks only.
        public internal(set) var isAssigned: Bool
        /// Freed or stolen while executing: drop the result when it comes.
        public internal(set) var isCancelled = false
        /// The scheduler asked for a copy of this key here: report it once it arrives.
        public internal(set) var isReplicaRequested = false
        /// Executing without a thread slot (it seceded, and has not rejoined since).
        public internal(set) var isSeceded = false
        public internal(set) var nbytes: Int64 = 0
    }

    public enum Event: Sendable, Hashable {
        /// The scheduler assigned a task; `dependencies` says where each input is.
        case computeRequested(TaskSpec, priority: TaskPriority, dependencies: [TaskKey: [String]])
        /// The scheduler no longer wants these keys here.
        case freeRequested([TaskKey])
        case stealRequested(TaskKey)
        /// A task ran and its result is stored.
        case executionFinished(TaskKey, nbytes: Int64, duration: Double)
        case executionFailed(TaskKey, TaskError)
        /// Inputs fetched from `peer` and stored.
        case fetchFinished([TaskKey: Int64], from: String)
        /// `peer` could not give these keys (gone, or does not hold them).
        case fetchFailed([TaskKey], from: String)
        /// A client stored these values here (scatter); the scheduler will track them as results.
        case dataReceived([TaskKey: Int64])
        /// The process is short of memory (`true`) or no longer is.
        case pauseChanged(Bool)
        /// The scheduler wants copies of these keys here, from the workers named (a retiring
        /// worker's results).
        case replicateRequested([TaskKey: [String]])
        /// The executing task gave up its thread slot to wait on other tasks (Dask's `secede()`).
        case seceded(TaskKey)
        /// The task wants a thread slot back before it runs on (Dask's `rejoin()`).
        case rejoinRequested(TaskKey)
    }

    public enum Action: Sendable, Hashable {
        /// Run the task: its inputs are in the store.
        case execute(TaskKey)
        /// Get these keys from this peer.
        case fetch([TaskKey], from: String)
        /// Drop the value from the store.
        case forget(TaskKey)
        /// `inline`: the result is small enough to travel with the report (``inlineResultBytes``).
        case reportFinished(TaskKey, nbytes: Int64, duration: Double, inline: Bool)
        case reportFailed(TaskError)
        /// No peer could give the key: `holder` is the last one tried.
        case reportMissing(TaskKey, holder: String)
        case answerSteal(TaskKey, started: Bool)
        /// A key the scheduler asked for (`replicateRequested`) is here.
        case reportAcquired(TaskKey, nbytes: Int64)
        /// Tell the scheduler the task left its slot (Dask's `long-running`).
        case reportSeceded(TaskKey)
        /// Let the task that asked to rejoin run on: it holds a slot again (or, for a task not
        /// seceded or no longer known here, there was nothing to wait for).
        case rejoin(TaskKey)
    }

    /// Results this small travel with the finished report, so a waiting client needs no `GetData`.
    public static let inlineResultBytes: Int64 = 1024

    public let threads: Int
    /// This worker's own address, never used as a peer.
    public let address: String
    public internal(set) var records: [TaskKey: Record] = [:]
    /// Executing tasks that hold a thread slot (seceded ones hold none).
    public private(set) var executingCount = 0
    /// Seceded tasks waiting for a slot, oldest first: they go before any ready task.
    public private(set) var rejoining: [TaskKey] = []
    /// Short of memory: ready tasks wait.
    public private(set) var isPaused = false
    /// Ready tasks, lowest priority value first (stale entries, freed or stolen since, are skipped).
    private var ready = MinHeap<ReadyTask>()

    private struct ReadyTask: Comparable, Sendable {
        var priority: TaskPriority
        var key: TaskKey

        static func < (lhs: ReadyTask, rhs: ReadyTask) -> Bool { lhs.priority < rhs.priority }
    }

    public init(threads: Int, address: String) {
        self.threads = max(1, threads)
        self.address = address
    }

    /// Handles one event and returns what to do.
    public mutating func handle(_ event: Event) -> [Action] {
        var actions: [Action] = []
        switch event {
        case .computeRequested(let spec, let priority, let dependencies):
            computeRequested(spec, priority: priority, dependencies: dependencies, into: &actions)
        case .freeRequested(let keys):
            for key in keys { free(key, into: &actions) }
        case .stealRequested(let key):
            steal(key, into: &actions)
        case .executionFinished(let key, let nbytes, let duration):
            executionFinished(key, nbytes: nbytes, duration: duration, into: &actions)
        case .executionFailed(let key, let error):
            executionFailed(key, error: error, into: &actions)
        case .fetchFinished(let sizes, let peer):
            for (key, nbytes) in sizes.sorted(by: { $0.key < $1.key }) {
                fetchFinished(key, nbytes: nbytes, into: &actions)
            }
            _ = peer
        case .fetchFailed(let keys, let peer):
            for key in keys { fetchFailed(key, from: peer, into: &actions) }
        case .dataReceived(let sizes):
            for (key, nbytes) in sizes.sorted(by: { $0.key < $1.key }) {
                dataReceived(key, nbytes: nbytes, into: &actions)
            }
        case .pauseChanged(let isPaused):
            self.isPaused = isPaused
        case .replicateRequested(let holders):
            replicateRequested(holders, into: &actions)
        case .seceded(let key):
            secede(key, into: &actions)
        case .rejoinRequested(let key):
            requestRejoin(key, into: &actions)
        }
        startReadyTasks(into: &actions)
        return actions
    }
}

// MARK: - Assignments

extension WorkerState {
    private mutating func computeRequested(
        _ spec: TaskSpec,
        priority: TaskPriority,
        dependencies: [TaskKey: [String]],
        into actions: inout [Action]
    ) {
        let key = spec.key
        if let existing = records[key] {
            switch existing.state {
            case .memory:
                // Computed or fetched here already: it is the scheduler's result now.
                records[key]!.isAssigned = true
                actions.append(finishedReport(key, nbytes: existing.nbytes, duration: 0))
                return
            case .waiting, .ready, .executing:
                // Assigned twice (or again after a free while it ran): one run, and it is ours.
                records[key]!.isCancelled = false
                records[key]!.isAssigned = true
                return
            case .fetch, .flight:
                break  // it was an input; now it is ours to compute
            }
        }
        var record = Record(state: .waiting, spec: spec, priority: priority, isAssigned: true)
        record.neededBy = records[key]?.neededBy ?? []
        var toFetch: [String: [TaskKey]] = [:]
        for dependency in spec.dependencies {
            if var input = records[dependency] {
                input.neededBy.insert(key)
                records[dependency] = input
                if input.state != .memory { record.waitingOn.insert(dependency) }
                continue
            }
            let holders = (dependencies[dependency] ?? []).filter { $0 != address }
            records[dependency] = Record(state: .fetch, neededBy: [key], holders: holders, isAssigned: false)
            record.waitingOn.insert(dependency)
            if let peer = holders.first {
                records[dependency]!.state = .flight
                toFetch[peer, default: []].append(dependency)
            } else {
                actions.append(.reportMissing(dependency, holder: ""))
            }
        }
        records[key] = record
        for (peer, keys) in toFetch.sorted(by: { $0.key < $1.key }) { actions.append(.fetch(keys, from: peer)) }
        if record.waitingOn.isEmpty { makeReady(key) }
    }

    private func finishedReport(_ key: TaskKey, nbytes: Int64, duration: Double) -> Action {
        .reportFinished(key, nbytes: nbytes, duration: duration, inline: nbytes <= Self.inlineResultBytes)
    }

    private mutating func makeReady(_ key: TaskKey) {
        records[key]!.state = .ready
        ready.push(ReadyTask(priority: records[key]!.priority ?? TaskPriority(generation: 0, index: 0), key: key))
    }

    private mutating func startReadyTasks(into actions: inout [Action]) {
        // A task rejoining was started already: pausing (which stops new work) does not hold it.
        while executingCount < threads, !rejoining.isEmpty {
            let key = rejoining.removeFirst()
            records[key]!.isSeceded = false
            executingCount += 1
            actions.append(.rejoin(key))
        }
        guard !isPaused, executingCount < threads, !ready.isEmpty else { return }
        while executingCount < threads, let next = ready.pop() {
            guard records[next.key]?.state == .ready else { continue }  // freed or stolen since
            records[next.key]!.state = .executing
            executingCount += 1
            actions.append(.execute(next.key))
        }
    }

    private mutating func executionFinished(
        _ key: TaskKey, nbytes: Int64, duration: Double, into actions: inout [Action]
    ) {
        guard let record = records[key], record.state == .executing else { return }
        leaveSlot(key, record)
        if record.isCancelled {
            actions.append(.forget(key))
            unassign(key, record, into: &actions)
            return
        }
        records[key]!.state = .memory
        records[key]!.nbytes = nbytes
        actions.append(finishedReport(key, nbytes: nbytes, duration: duration))
        inputArrived(key)
        releaseInputs(of: record, into: &actions)
    }

    private mutating func executionFailed(_ key: TaskKey, error: TaskError, into actions: inout [Action]) {
        guard let record = records[key], record.state == .executing else { return }
        leaveSlot(key, record)
        if record.isCancelled {
            unassign(key, record, into: &actions)
        } else {
            actions.append(.reportFailed(error))
            // Local tasks that need it wait for the scheduler, which errs them too.
            unassign(key, record, reportingMissing: false, into: &actions)
        }
    }

    /// An executing task ended: its slot (if it held one) is free, and it waits for none.
    private mutating func leaveSlot(_ key: TaskKey, _ record: Record) {
        if record.isSeceded {
            records[key]!.isSeceded = false
            rejoining.removeAll { $0 == key }
        } else {
            executingCount -= 1
        }
    }

    /// A key is in memory here: local tasks waiting for it may be ready.
    private mutating func inputArrived(_ key: TaskKey) {
        for dependent in records[key]?.neededBy ?? [] {
            guard records[dependent]?.state == .waiting else { continue }
            records[dependent]!.waitingOn.remove(key)
            if records[dependent]!.waitingOn.isEmpty { makeReady(dependent) }
        }
    }

    /// The task no longer needs its inputs; inputs fetched only for local tasks go when unneeded.
    private mutating func releaseInputs(of record: Record, into actions: inout [Action]) {
        guard let spec = record.spec else { return }
        for dependency in spec.dependencies {
            records[dependency]?.neededBy.remove(spec.key)
            dropIfUnneeded(dependency, into: &actions)
        }
    }

    private mutating func dropIfUnneeded(_ key: TaskKey, into actions: inout [Action]) {
        guard let record = records[key], !record.isAssigned, record.neededBy.isEmpty else { return }
        switch record.state {
        case .memory:
            records[key] = nil
            actions.append(.forget(key))
        case .fetch, .flight:
            records[key] = nil  // a late fetch result is dropped in fetchFinished
        case .waiting, .ready, .executing:
            break
        }
    }
}

// MARK: - Fetching, freeing, stealing

extension WorkerState {
    private mutating func fetchFinished(_ key: TaskKey, nbytes: Int64, into actions: inout [Action]) {
        guard let record = records[key], record.state == .flight || record.state == .fetch else {
            if records[key] == nil { actions.append(.forget(key)) }  // no longer wanted
            return
        }
        records[key]!.state = .memory
        records[key]!.nbytes = nbytes
        acquired(key, into: &actions)
        inputArrived(key)
    }

    private mutating func dataReceived(_ key: TaskKey, nbytes: Int64, into actions: inout [Action]) {
        guard let record = records[key] else {
            records[key] = Record(state: .memory, isAssigned: true, nbytes: nbytes)
            return
        }
        switch record.state {
        case .memory:
            records[key]!.isAssigned = true
        case .fetch, .flight:
            // An input on its way here arrived from the client instead.
            records[key]!.state = .memory
            records[key]!.nbytes = nbytes
            records[key]!.isAssigned = true
            acquired(key, into: &actions)
            inputArrived(key)
        case .waiting, .ready, .executing:
            break  // a task of that key runs here; its own result will count
        }
    }

    private mutating func fetchFailed(_ key: TaskKey, from peer: String, into actions: inout [Action]) {
        guard var record = records[key], record.state == .flight else { return }
        record.holders.removeAll { $0 == peer }
        if let next = record.holders.first {
            record.state = .flight
            records[key] = record
            actions.append(.fetch([key], from: next))
        } else if record.neededBy.isEmpty {
            // Only a copy the scheduler asked for: it keeps counting the holders' copies.
            records[key] = nil
        } else {
            // Nobody has it: the scheduler recomputes it and reassigns what needed it.
            record.state = .fetch
            records[key] = record
            actions.append(.reportMissing(key, holder: peer))
        }
    }

    private mutating func free(_ key: TaskKey, into actions: inout [Action]) {
        guard var record = records[key] else { return }
        record.isAssigned = false
        record.isReplicaRequested = false
        switch record.state {
        case .executing:
            record.isCancelled = true
            records[key] = record
        case .waiting, .ready:
            unassign(key, record, into: &actions)
        case .memory:
            records[key] = record
            if record.neededBy.isEmpty {
                records[key] = nil
                actions.append(.forget(key))
                if let spec = record.spec {
                    releaseInputs(of: Record(state: .memory, spec: spec, isAssigned: false), into: &actions)
                }
            }
        case .fetch, .flight:
            records[key] = record
            dropIfUnneeded(key, into: &actions)
        }
    }

    /// A task whose result will not come from here (freed, stolen, cancelled or failed). It is
    /// gone, unless a local task needs its result: then it becomes an input like any other, with
    /// no holder known yet, and (`reportingMissing`) the scheduler is told so: it answers with
    /// where the result is, or recomputes it.
    private mutating func unassign(
        _ key: TaskKey, _ record: Record, reportingMissing: Bool = true, into actions: inout [Action]
    ) {
        if record.neededBy.isEmpty {
            records[key] = nil
        } else {
            records[key] = Record(state: .fetch, neededBy: record.neededBy, isAssigned: false)
            if reportingMissing { actions.append(.reportMissing(key, holder: "")) }
        }
        releaseInputs(of: record, into: &actions)
    }

    private mutating func steal(_ key: TaskKey, into actions: inout [Action]) {
        guard let record = records[key] else {
            actions.append(.answerSteal(key, started: false))
            return
        }
        switch record.state {
        case .waiting, .ready:
            unassign(key, record, into: &actions)
            actions.append(.answerSteal(key, started: false))
        case .executing, .memory, .fetch, .flight:
            actions.append(.answerSteal(key, started: true))
        }
    }
}

// MARK: - Seceding and rejoining

extension WorkerState {
    private mutating func secede(_ key: TaskKey, into actions: inout [Action]) {
        guard let record = records[key], record.state == .executing, !record.isSeceded else { return }
        records[key]!.isSeceded = true
        executingCount -= 1
        actions.append(.reportSeceded(key))
    }

    private mutating func requestRejoin(_ key: TaskKey, into actions: inout [Action]) {
        guard let record = records[key], record.state == .executing, record.isSeceded else {
            actions.append(.rejoin(key))  // nothing to wait for
            return
        }
        if !rejoining.contains(key) { rejoining.append(key) }
    }
}

// MARK: - Invariants

extension WorkerState {
    /// Checks the bookkeeping; tests call it after every event.
    public func checkInvariants() throws(InvariantViolation) {
        let executing = records.values.filter { $0.state == .executing && !$0.isSeceded }.count
        guard executing == executingCount, executingCount <= threads else {
            throw InvariantViolation("\(executingCount) counted executing, \(executing) found, \(threads) threads")
        }
        for key in rejoining where !(records[key]?.state == .executing && records[key]?.isSeceded == true) {
            throw InvariantViolation("'\(key)' waits to rejoin but is not a seceded executing task")
        }
        if executingCount < threads, let key = rejoining.first {
            throw InvariantViolation("'\(key)' waits to rejoin while a thread is free")
        }
        for (key, record) in records {
            for dependency in record.waitingOn where records[dependency]?.state == .memory {
                throw InvariantViolation("'\(key)' waits on '\(dependency)', which is here")
            }
            if record.state == .waiting && record.waitingOn.isEmpty {
                throw InvariantViolation("'\(key)' waiting on nothing")
            }
            for dependent in record.neededBy where records[dependent] == nil {
                throw InvariantViolation("'\(key)' needed by '\(dependent)', which is gone")
            }
            if record.isReplicaRequested && !(record.isAssigned && [.fetch, .flight].contains(record.state)) {
                throw InvariantViolation("'\(key)' is a requested copy but is \(record.state), not on its way")
            }
            if record.isSeceded && record.state != .executing {
                throw InvariantViolation("'\(key)' is seceded but \(record.state)")
            }
            if !record.isAssigned && record.neededBy.isEmpty && record.state != .executing {
                throw InvariantViolation("'\(key)' is \(record.state) but neither assigned nor needed")
            }
        }
        if !isPaused && executingCount < threads && records.values.contains(where: { $0.state == .ready }) {
            throw InvariantViolation("a ready task waits while a thread is free")
        }
    }
}
