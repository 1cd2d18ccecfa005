public import DroverCore
public import DroverScheduler

/// Random sequences of events, valid and invalid, fed to a ``SchedulerState`` with its invariants
/// checked after every one.
///
/// Valid events follow a plausible cluster: workers join, clients submit graphs, tasks finish or
/// err on the worker the state assigned them to, steals are answered, workers leave. Invalid ones
/// are mixed in: finishes from the wrong worker, unknown keys, duplicate joins, releases of
/// unknown keys, steal answers for tasks never stolen, dependencies on missing keys, empty keys,
/// non-positive thread counts, negative sizes and NaN durations.
///
/// Graphs mostly point from higher keys to lower ones, but one dependency in ten may name any key,
/// itself included: cycles and self-dependencies reach the state, whose submission check must
/// reject them. Time advances 100 ms an event, and clock ticks are among the events, so workers
/// that the events leave silent are removed for it and unanswered steals are forced.
public enum SchedulerStateFuzzing {
    /// The target's name.
    public static let target = "scheduler"

    /// Hands one event to the state: the one place that calls `handle`, so a change of its
    /// signature (a `now:` argument, a stimulus id) is a change here only.
    static func deliver(_ event: SchedulerState.Event, to state: inout SchedulerState) -> [SchedulerState.Action] {
        state.handle(event, now: state.now + .milliseconds(100))
    }

    /// Runs the events `bytes` choose.
    ///
    /// - Parameters:
    ///   - bytes: the choices (libFuzzer's input, or ``FuzzInput/seeded(_:count:)``).
    ///   - maxEvents: the most events to feed.
    /// - Returns: the number of events fed.
    /// - Throws: ``FuzzFinding`` when an invariant breaks.
    @discardableResult
    public static func run(_ bytes: [UInt8], maxEvents: Int = 256) throws(FuzzFinding) -> Int {
        var input = FuzzInput(bytes)
        let configuration = makeConfiguration(&input)
        var state = SchedulerState(configuration: configuration)
        var generator = Generator()
        var fed: [SchedulerState.Event] = []
        while !input.isExhausted && fed.count < maxEvents {
            let event = generator.next(&input)
            fed.append(event)
            let actions = deliver(event, to: &state)
            do {
                try check(state, after: actions)
            } catch {
                throw FuzzFinding(
                    target: target,
                    events: ["allowedFailures \(configuration.allowedFailures)"] + fed.map { "\($0)" },
                    message: error.description)
            }
            generator.observe(actions)
        }
        return fed.count
    }

    /// Feeds `events` to a new state, checking after each.
    ///
    /// - Returns: the violation after the first event that broke a rule, or `nil`.
    public static func replay(
        _ events: [SchedulerState.Event], configuration: SchedulerState.Configuration = .init()
    ) -> InvariantViolation? {
        var state = SchedulerState(configuration: configuration)
        for event in events {
            let actions = deliver(event, to: &state)
            do { try check(state, after: actions) } catch { return error }
        }
        return nil
    }

    static func makeConfiguration(_ input: inout FuzzInput) -> SchedulerState.Configuration {
        var configuration = SchedulerState.Configuration()
        configuration.allowedFailures = input.int(in: 0...3)
        return configuration
    }

    /// The state's own invariants, plus what its actions promise about it.
    static func check(_ state: SchedulerState, after actions: [SchedulerState.Action]) throws(InvariantViolation) {
        try state.checkInvariants()
        for (index, action) in actions.enumerated() {
            guard case .compute(let worker, let assignment) = action else { continue }
            let key = assignment.spec.key
            // One event may start a task and then, finding that a sibling input is lost for good,
            // err its dependents and free it again: wasted work at worst, as long as the free
            // follows the compute to the same worker in the same batch.
            let cancelled = actions[(index + 1)...].contains {
                if case .free(worker, let keys) = $0 { keys.contains(key) } else { false }
            }
            guard cancelled || state.processingOn(key) == worker else {
                throw InvariantViolation("sent '\(key)' to \(worker), but the task is not processing there")
            }
            guard state.workers[worker] != nil else {
                throw InvariantViolation("sent '\(key)' to \(worker), which is not connected")
            }
        }
    }
}

// MARK: - Generator

extension SchedulerStateFuzzing {
    /// Chooses events, keeping what the state's actions announced so that most events answer them.
    struct Generator {
        static let workerIDs: [WorkerID] = (0..<4).map { WorkerID("w\($0)") }
        static let clients: [ClientID] = ["c0", "c1"]
        /// `keys[i]` depends mostly on `keys[j]`, `j < i` (see the type's comment).
        static let keys: [TaskKey] = [""] + (0..<14).map { TaskKey("t\($0)") }

        /// Tasks the state sent to a worker and not yet answered.
        var assigned: [(key: TaskKey, worker: WorkerID)] = []
        var steals: [(key: TaskKey, worker: WorkerID)] = []
        var incarnations: [(worker: WorkerID, incarnation: Int)] = []

        mutating func observe(_ actions: [SchedulerState.Action]) {
            for action in actions {
                switch action {
                case .compute(let worker, let assignment): assigned.append((assignment.spec.key, worker))
                case .requestSteal(let worker, let key): steals.append((key, worker))
                case .awaitExitReport(let worker, let incarnation, _): incarnations.append((worker, incarnation))
                default: break
                }
            }
        }

        mutating func next(_ input: inout FuzzInput) -> SchedulerState.Event {
            switch input.int(in: 0...26) {
            case 0...2: return join(&input)
            case 3...5: return submit(&input)
            case 6...10: return finishOrErr(&input)
            case 11: return stealAnswer(&input)
            case 12: return leave(&input)
            case 13: return .keysReleased(input.pick(Self.clients), someKeys(&input))
            case 14: return .clientDisconnected(input.pick(Self.clients))
            case 15: return scatter(&input)
            case 16:
                return .dataMissing(
                    input.pick(Self.keys), holderAddress: address(input.pick(Self.workerIDs)), reporter: worker(&input))
            case 17: return .tasksStarted(worker(&input), someKeys(&input))
            case 18: return .workerRetiring(worker(&input))
            case 19:
                var sizes: [TaskKey: Int64] = [:]
                for key in someKeys(&input) { sizes[key] = Int64(input.int(in: -1...100)) }
                return .keysAcquired(worker(&input), sizes)
            case 20:
                return .workerReported(
                    worker(&input), memoryBytes: input.int64(), managedBytes: input.int64(), paused: input.chance(30),
                    executing: input.int(in: -1...4))
            case 21: return input.chance(50) ? .workerPaused(worker(&input)) : .workerResumed(worker(&input))
            case 22: return input.chance(30) ? .balanceTimerFired : .clockTicked
            case 23: return overdue(&input)
            case 24: return .taskSeceded(input.pick(Self.keys), worker: worker(&input))
            case 25: return waitRequest(&input)
            default:
                let id = worker(&input)
                return .workerExited(id, address: input.chance(80) ? address(id) : "elsewhere:1", cause: "fuzz")
            }
        }

        /// A queue get, lease, variable get or event wait, some with a timeout (of up to 2 s), or
        /// the put, release, set or update that answers one.
        private func waitRequest(_ input: inout FuzzInput) -> SchedulerState.Event {
            let client = input.pick(Self.clients)
            let request = UInt64(input.int(in: 0...3))
            let timeout: Duration? = input.chance(60) ? .milliseconds(input.int(in: 0...2000)) : nil
            let value = try! 1.encodePayload()  // an Int always encodes (JSON)
            switch input.int(in: 0...7) {
            case 0: return .queueRequested(client, name: "q", request: request, timeout: timeout)
            case 1: return .queuePut(client, name: "q", value)
            case 2:
                return .semaphoreAcquireRequested(client, name: "s", maxLeases: 1, request: request, timeout: timeout)
            case 3: return .semaphoreReleased(client, name: "s")
            case 4: return .variableRequested(client, name: "v", request: request, timeout: timeout)
            case 5:
                return input.chance(50) ? .variableSet(client, name: "v", value) : .variableDeleted(client, name: "v")
            case 6:
                return .eventWaited(client, name: "e", request: request, immediate: input.chance(20), timeout: timeout)
            default: return .eventUpdated(client, name: "e", isSet: input.chance(50))
            }
        }

        private func address(_ worker: WorkerID) -> String { "tcp://\(worker)" }

        private func worker(_ input: inout FuzzInput) -> WorkerID { input.pick(Self.workerIDs) }

        private func someKeys(_ input: inout FuzzInput) -> [TaskKey] {
            (0..<input.int(in: 1...3)).map { _ in input.pick(Self.keys) }
        }

        private func join(_ input: inout FuzzInput) -> SchedulerState.Event {
            let id = worker(&input)
            return .workerJoined(
                id, address: address(id), threads: input.int(in: -1...4), memoryLimit: 1 << 30,
                nanny: input.chance(30) ? "nanny:1" : "")
        }

        private func submit(_ input: inout FuzzInput) -> SchedulerState.Event {
            var tasks: [SchedulerState.SubmittedTask] = []
            for _ in 0..<input.int(in: 1...6) {
                let index = input.int(in: 0...(Self.keys.count - 1))
                var arguments: [ArgumentSpec] = []
                if index > 0 {
                    // Lower keys only; some never submitted: dependencies on missing keys.
                    for _ in 0..<input.int(in: 0...2) {
                        arguments.append(.key(Self.keys[input.int(in: 0...(index - 1))]))
                    }
                }
                if input.chance(10) {
                    // Any key, this one and later ones included: self-dependencies and cycles.
                    arguments.append(.key(Self.keys[input.int(in: 0...(Self.keys.count - 1))]))
                }
                let allowed: Set<String> = input.chance(10) ? [input.pick(Self.workerIDs).rawValue] : []
                tasks.append(
                    .init(
                        spec: TaskSpec(key: Self.keys[index], function: input.pick(["f", "g"]), arguments: arguments),
                        allowedWorkers: allowed, retries: input.int(in: 0...1), priority: input.int(in: -1...1)))
            }
            let wants = tasks.filter { _ in input.chance(60) }.map(\.spec.key) + (input.chance(10) ? ["t99"] : [])
            return .graphSubmitted(input.pick(Self.clients), tasks: tasks, wants: wants)
        }

        private mutating func finishOrErr(_ input: inout FuzzInput) -> SchedulerState.Event {
            var key = input.pick(Self.keys)
            var by = worker(&input)
            if !assigned.isEmpty && input.chance(85) {
                (key, by) = assigned.remove(at: input.int(in: 0...(assigned.count - 1)))
                if input.chance(5) { by = worker(&input) }  // from the wrong worker
            }
            if input.chance(85) {
                let nbytes = input.chance(5) ? -1 : Int64(input.int(in: 0...5000))
                return .taskFinished(key, worker: by, nbytes: nbytes, duration: input.chance(10) ? nil : input.double())
            }
            let kind: TaskError.Kind = input.chance(80) ? .failed : .workerDied
            return .taskErred(key, worker: by, error: TaskError(kind: kind, key: key, function: "f", message: "fuzz"))
        }

        private mutating func stealAnswer(_ input: inout FuzzInput) -> SchedulerState.Event {
            if !steals.isEmpty && input.chance(80) {
                let (key, victim) = steals.remove(at: input.int(in: 0...(steals.count - 1)))
                return .stealAnswered(key, worker: victim, started: input.chance(30))
            }
            return .stealAnswered(input.pick(Self.keys), worker: worker(&input), started: input.chance(50))
        }

        private mutating func leave(_ input: inout FuzzInput) -> SchedulerState.Event {
            let id = worker(&input)
            assigned.removeAll { $0.worker == id && input.chance(50) }
            return input.chance(50) ? .workerLeft(id, cause: "fuzz") : .workerDisconnected(id, cause: "fuzz")
        }

        private mutating func overdue(_ input: inout FuzzInput) -> SchedulerState.Event {
            if !incarnations.isEmpty && input.chance(80) {
                let (id, incarnation) = incarnations.remove(at: input.int(in: 0...(incarnations.count - 1)))
                return .exitReportOverdue(id, incarnation: incarnation, cause: "fuzz")
            }
            return .exitReportOverdue(worker(&input), incarnation: input.int(in: 0...5), cause: "fuzz")
        }

        private func scatter(_ input: inout FuzzInput) -> SchedulerState.Event {
            let values = someKeys(&input).map {
                SchedulerState.ScatteredValue(
                    key: $0, nbytes: Int64(input.int(in: 0...100)),
                    workerAddress: input.chance(85) ? address(input.pick(Self.workerIDs)) : "nowhere:1")
            }
            return .dataScattered(input.pick(Self.clients), values)
        }
    }
}
