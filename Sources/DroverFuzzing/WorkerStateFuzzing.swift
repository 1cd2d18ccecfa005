public import DroverCore
public import DroverWorker

/// Random sequences of events, valid and invalid, fed to a ``WorkerState`` with its invariants
/// checked after every one.
///
/// Valid events follow the actions the state returns: tasks it said to execute finish or fail,
/// fetches it started succeed or fail at the peer it named. Invalid ones are what a confused
/// scheduler, a late peer or a bug in the shell could send: finishes of tasks not executing,
/// fetch results nobody asked for, frees and steals of unknown keys, tasks depending on
/// themselves, empty keys, the worker's own address as a holder.
public enum WorkerStateFuzzing {
    /// The target's name.
    public static let target = "worker"

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
        var generator = Generator(threads: input.int(in: 1...4))
        var state = WorkerState(threads: generator.threads, address: Generator.ownAddress)
        var fed: [WorkerState.Event] = []
        while !input.isExhausted && fed.count < maxEvents {
            let event = generator.next(&input)
            fed.append(event)
            let actions = state.handle(event)
            do {
                try check(state, after: actions)
            } catch {
                throw FuzzFinding(
                    target: target, events: ["threads \(generator.threads)"] + fed.map { "\($0)" },
                    message: error.description)
            }
            generator.observe(actions)
        }
        return fed.count
    }

    /// Feeds `events` to a new state of `threads` threads, checking after each.
    ///
    /// - Returns: the violation after the first event that broke a rule, or `nil`.
    public static func replay(_ events: [WorkerState.Event], threads: Int) -> InvariantViolation? {
        var state = WorkerState(threads: threads, address: Generator.ownAddress)
        for event in events {
            let actions = state.handle(event)
            do { try check(state, after: actions) } catch { return error }
        }
        return nil
    }

    /// The state's own invariants, plus what its actions promise about it.
    static func check(_ state: WorkerState, after actions: [WorkerState.Action]) throws(InvariantViolation) {
        try state.checkInvariants()
        for action in actions {
            switch action {
            case .execute(let key):
                guard state.records[key]?.state == .executing else {
                    throw InvariantViolation("said to execute '\(key)', which is \(describe(state.records[key]))")
                }
            case .fetch(let keys, let peer):
                guard peer != state.address else { throw InvariantViolation("told to fetch \(keys) from itself") }
            default:
                break
            }
        }
    }

    private static func describe(_ record: WorkerState.Record?) -> String {
        record.map { "\($0.state)" } ?? "unknown"
    }
}

// MARK: - Generator

extension WorkerStateFuzzing {
    /// Chooses events, keeping what the state's actions announced so that most events answer them.
    struct Generator {
        static let ownAddress = "self:1"
        static let keys: [TaskKey] = (0..<10).map { TaskKey("k\($0)") } + [""]
        static let peers = ["p1:1", "p2:1", ownAddress, ""]

        let threads: Int
        /// Tasks the state said to execute and not yet answered.
        var executing: [TaskKey] = []
        /// Fetches the state started and not yet answered.
        var fetches: [(keys: [TaskKey], peer: String)] = []
        var generation = 0

        init(threads: Int) {
            self.threads = threads
        }

        mutating func observe(_ actions: [WorkerState.Action]) {
            for action in actions {
                switch action {
                case .execute(let key): executing.append(key)
                case .fetch(let keys, let peer): fetches.append((keys, peer))
                default: break
                }
            }
        }

        mutating func next(_ input: inout FuzzInput) -> WorkerState.Event {
            switch input.int(in: 0...17) {
            case 0...3: return compute(&input)
            case 4, 5: return finishOrFail(&input)
            case 6, 7: return fetchAnswer(&input)
            case 8: return .freeRequested(someKeys(&input))
            case 9: return .stealRequested(input.pick(Self.keys))
            case 10: return .dataReceived(sizes(&input))
            case 11: return .pauseChanged(input.chance(50))
            case 12: return .replicateRequested(holders(&input))
            case 13: return .executionFinished(input.pick(Self.keys), nbytes: nbytes(&input), duration: input.double())
            case 14: return .fetchFinished(sizes(&input), from: input.pick(Self.peers))
            case 15: return .seceded(input.pick(Self.keys))
            case 16: return .rejoinRequested(input.pick(Self.keys))
            default: return .fetchFailed(someKeys(&input), from: input.pick(Self.peers))
            }
        }

        private mutating func compute(_ input: inout FuzzInput) -> WorkerState.Event {
            let key = input.pick(Self.keys)
            // Any key, the task's own included: a self-dependency is one of the invalid inputs.
            let dependencies = (0..<input.int(in: 0...3)).map { _ in input.pick(Self.keys) }
            var arguments: [ArgumentSpec] = dependencies.map { .key($0) }
            if input.chance(20) { arguments.append(.list([.key(input.pick(Self.keys))])) }
            if input.chance(20) { generation += 1 }
            let priority = TaskPriority(
                user: input.int(in: -1...1), generation: generation, index: input.int(in: 0...20))
            var locations: [TaskKey: [String]] = [:]
            for dependency in dependencies where input.chance(80) {
                locations[dependency] = (0..<input.int(in: 0...2)).map { _ in input.pick(Self.peers) }
            }
            return .computeRequested(
                TaskSpec(key: key, function: "f", arguments: arguments), priority: priority, dependencies: locations)
        }

        private mutating func finishOrFail(_ input: inout FuzzInput) -> WorkerState.Event {
            let key: TaskKey
            if !executing.isEmpty && input.chance(90) {
                key = executing.remove(at: input.int(in: 0...(executing.count - 1)))
            } else {
                key = input.pick(Self.keys)
            }
            if input.chance(80) {
                return .executionFinished(key, nbytes: nbytes(&input), duration: input.double())
            }
            return .executionFailed(key, TaskError(kind: .failed, key: key, function: "f", message: "fuzz"))
        }

        private mutating func fetchAnswer(_ input: inout FuzzInput) -> WorkerState.Event {
            guard !fetches.isEmpty && input.chance(90) else {
                return .fetchFinished(sizes(&input), from: input.pick(Self.peers))
            }
            let fetch = fetches.remove(at: input.int(in: 0...(fetches.count - 1)))
            switch input.int(in: 0...3) {
            case 0: return .fetchFailed(fetch.keys, from: fetch.peer)
            case 1:
                // Part arrived, the rest is missing: what `WorkerRuntime.fetched` reports.
                let split = input.int(in: 0...fetch.keys.count)
                fetches.append((Array(fetch.keys[split...]), fetch.peer))
                return .fetchFinished(
                    Dictionary(fetch.keys[..<split].map { ($0, Int64(8)) }, uniquingKeysWith: { first, _ in first }),
                    from: fetch.peer)
            default:
                return .fetchFinished(
                    Dictionary(fetch.keys.map { ($0, Int64(8)) }, uniquingKeysWith: { first, _ in first }),
                    from: fetch.peer)
            }
        }

        private func someKeys(_ input: inout FuzzInput) -> [TaskKey] {
            (0..<input.int(in: 1...3)).map { _ in input.pick(Self.keys) }
        }

        private func sizes(_ input: inout FuzzInput) -> [TaskKey: Int64] {
            var sizes: [TaskKey: Int64] = [:]
            for _ in 0..<input.int(in: 0...3) { sizes[input.pick(Self.keys)] = nbytes(&input) }
            return sizes
        }

        private func holders(_ input: inout FuzzInput) -> [TaskKey: [String]] {
            var holders: [TaskKey: [String]] = [:]
            for _ in 0..<input.int(in: 0...3) {
                holders[input.pick(Self.keys)] = (0..<input.int(in: 0...2)).map { _ in input.pick(Self.peers) }
            }
            return holders
        }

        private func nbytes(_ input: inout FuzzInput) -> Int64 {
            input.chance(10) ? input.int64() : Int64(input.int(in: 0...4096))
        }
    }
}
