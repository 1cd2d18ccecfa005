import ArgumentParser
import DroverCore
import DroverLocal
import DroverScheduler
import Foundation

/// `drover bench scheduler`: the scheduler's state machine alone, driven by simulated workers that
/// complete every task the moment they get it (RSDS's "zero worker"), so that nothing but the
/// scheduler's own decisions is measured.
struct SchedulerBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scheduler",
        abstract: "Tasks per second of the scheduler's state machine with zero-cost simulated workers.",
        discussion: """
            Each round, every simulated worker reports all the tasks it was given as finished (one \
            batch per worker, as a worker's stream sends them) and answers steal requests at once. \
            Timed: submission, every finish, and the release until the state forgets every task. \
            Graphs: map (independent no-ops, each wanted) and tree (a binary reduction of no-op \
            leaves, only the root wanted). A memory figure follows: the process's resident memory \
            per finished task held in the state.
            """
    )

    @Option(help: "Tasks per graph.")
    var tasks = 100_000

    @Option(help: "Simulated worker counts, comma-separated.")
    var workers = "2,16,128"

    @Option(help: "Threads per simulated worker.")
    var threads = 1

    @Option(help: "Runs per measurement; the median is reported.")
    var repeats = 3

    @Option(help: "Finished tasks held for the memory figure (0: skip it).")
    var held = 100_000

    @Flag(help: "Also a `drover scheduler` process over gRPC, its workers simulated in this process.")
    var grpc = false

    @Option(help: "Tasks of the map on the gRPC scheduler.")
    var grpcTasks = 20_000

    @Option(help: "Run the gRPC scheduler from this executable (another build) instead of this one.")
    var schedulerExecutable: String?

    func run() async throws {
        #if DEBUG
            print("warning: this is a debug build; measure with `swift run -c release drover bench scheduler`")
        #endif
        let counts = workers.split(separator: ",").compactMap { Int($0) }
        print("zero-worker scheduler: \(tasks) tasks per graph, \(threads) thread(s) per worker, median of \(repeats)")
        var rows: [[String]] = []
        for shape in Shape.allCases {
            for count in counts {
                let graph = shape.graph(tasks)
                var times: [Duration] = []
                for _ in 0..<repeats {
                    var simulation = ZeroWorkerSimulation(workers: count, threads: threads)
                    let start = ContinuousClock.now
                    try simulation.run(graph, wants: shape.wants(graph))
                    times.append(ContinuousClock.now - start)
                }
                let seconds = LocalBench.median(times).inSeconds
                let taskCount = graph.count
                rows.append([
                    shape.rawValue, String(count), String(Int((Double(taskCount) / seconds).rounded())),
                    String(format: "%.2f", seconds * 1e6 / Double(taskCount)),
                ])
            }
        }
        print(Table(headers: ["graph", "workers", "tasks/s", "µs/task"], rows: rows).render())
        if held > 0 { try heldMemory() }
        if grpc {
            print(
                "\nscheduler process over gRPC, simulated workers: map + wait of \(grpcTasks) no-ops, median of \(repeats)"
            )
            var grpcRows: [[String]] = []
            for count in counts {
                var rates: [Double] = []
                for _ in 0..<repeats {
                    rates.append(
                        try await SchedulerServiceBench.run(
                            tasks: grpcTasks, workers: count, executable: schedulerExecutable))
                }
                let rate = rates.sorted()[rates.count / 2]
                grpcRows.append([String(count), String(Int(rate.rounded())), String(format: "%.2f", 1e6 / rate)])
            }
            print(Table(headers: ["workers", "tasks/s", "µs/task"], rows: grpcRows).render())
        }
    }

    /// The process's resident memory per finished task that a client holds, in the state alone.
    private func heldMemory() throws {
        var simulation = ZeroWorkerSimulation(workers: 2, threads: threads)
        let graph = Shape.map.graph(held)
        let before = ProcessMemory.residentBytes() ?? 0
        let heapBefore = ProcessMemory.heapInUse()
        try simulation.run(graph, wants: graph.map(\.spec.key), release: false)
        let heapAfter = ProcessMemory.heapInUse()
        let after = ProcessMemory.residentBytes() ?? 0
        let perTask = Double(after - before) / Double(held)
        print(
            "held: \(held) finished tasks wanted by a client: RSS \(before >> 20) MiB before, \(after >> 20) MiB after, "
                + String(format: "%.0f B per held task (state and the submitted specs)", perTask))
        print(
            String(
                format: "held: live heap (mallinfo2) %.0f B per held task; RSS beyond it %.0f B",
                Double(heapAfter - heapBefore) / Double(held),
                Double((after - before) - (heapAfter - heapBefore)) / Double(held)))
        var rows: [[String]] = []
        for (structure, bytes) in simulation.state.memoryAccount {
            rows.append([structure, String(bytes), String(format: "%.1f", Double(bytes) / Double(held))])
        }
        // The bench's own graph is alive throughout (its keys and specs are not the state's).
        withExtendedLifetime((simulation, graph)) {}
        print(Table(headers: ["state structure", "bytes", "B per held task"], rows: rows).render())
    }

    enum Shape: String, CaseIterable {
        case map, tree

        func graph(_ count: Int) -> [SchedulerState.SubmittedTask] {
            let argument = ArgumentSpec.value(
                Payload(encoding: .raw, data: Data(repeating: 0, count: 8), typeName: "Int"))
            func key(_ name: String, _ index: Int) -> TaskKey {
                TaskKey("\(name)-\(String(index, radix: 16))-5f0c3b9a2e7d41c8a6b3e1f0d2c4a697")
            }
            switch self {
            case .map:
                return (0..<count).map {
                    .init(spec: TaskSpec(key: key("noop", $0), function: "noop", arguments: [argument]))
                }
            case .tree:
                var tasks: [SchedulerState.SubmittedTask] = []
                var level = (0..<((count + 1) / 2)).map { key("noop", $0) }
                tasks = level.map { .init(spec: TaskSpec(key: $0, function: "noop", arguments: [argument])) }
                var next = 0
                while level.count > 1 {
                    var upper: [TaskKey] = []
                    for index in stride(from: 0, to: level.count - 1, by: 2) {
                        let parent = key("plus", next)
                        next += 1
                        tasks.append(
                            .init(
                                spec: TaskSpec(
                                    key: parent, function: "plus",
                                    arguments: [.key(level[index]), .key(level[index + 1])])
                            ))
                        upper.append(parent)
                    }
                    if level.count % 2 == 1 { upper.append(level[level.count - 1]) }
                    level = upper
                }
                return tasks
            }
        }

        func wants(_ graph: [SchedulerState.SubmittedTask]) -> [TaskKey] {
            switch self {
            case .map: graph.map(\.spec.key)
            case .tree: graph.last.map { [$0.spec.key] } ?? []
            }
        }
    }
}

/// A ``SchedulerState`` and simulated workers that finish each task as soon as it is assigned.
struct ZeroWorkerSimulation {
    var state: SchedulerState
    let workerIDs: [WorkerID]
    let client: ClientID = "bench-client"
    /// Tasks each worker was given and has not reported yet, in order.
    var assigned: [WorkerID: [TaskKey]] = [:]
    var steals: [WorkerID: [TaskKey]] = [:]
    /// Keys the client has heard are in memory.
    var done = 0
    var clock = Duration.zero

    init(workers: Int, threads: Int) {
        var configuration = SchedulerState.Configuration()
        configuration.workerTTL = nil
        state = SchedulerState(configuration: configuration)
        workerIDs = (0..<workers).map { WorkerID("worker-\($0)") }
        for (index, id) in workerIDs.enumerated() {
            perform(
                state.handle(
                    .workerJoined(id, address: "127.0.0.1:\(20_000 + index)", threads: threads, memoryLimit: 1 << 32),
                    now: clock))
        }
    }

    /// Submits the graph and reports tasks finished until the client has every key it wants; then
    /// (unless `release` is false) releases them and checks that the scheduler forgot every task.
    mutating func run(_ graph: [SchedulerState.SubmittedTask], wants: [TaskKey], release: Bool = true) throws {
        perform(state.handle(.graphSubmitted(client, tasks: graph, wants: wants), now: clock))
        var rounds = 0
        while done < wants.count {
            rounds += 1
            clock += .microseconds(100)
            var progressed = false
            for id in workerIDs {
                let answers = steals.removeValue(forKey: id) ?? []
                for key in answers {
                    let pending = assigned[id]?.contains(key) == true
                    if pending { assigned[id]!.removeAll { $0 == key } }
                    perform(state.handle(.stealAnswered(key, worker: id, started: !pending), now: clock))
                    progressed = true
                }
                let batch = assigned.removeValue(forKey: id) ?? []
                for key in batch {
                    perform(state.handle(.taskFinished(key, worker: id, nbytes: 28, duration: 0), now: clock))
                    progressed = true
                }
            }
            guard progressed else {
                throw ValidationError("the scheduler stalled after \(rounds) rounds with \(done)/\(wants.count) done")
            }
        }
        guard release else { return }
        perform(state.handle(.keysReleased(client, wants), now: clock))
        guard state.tasks.isEmpty else {
            throw ValidationError("the scheduler still holds \(state.tasks.count) tasks after the release")
        }
    }

    private mutating func perform(_ actions: [SchedulerState.Action]) {
        for action in actions {
            switch action {
            case .compute(let worker, let assignment):
                assigned[worker, default: []].append(assignment.spec.key)
            case .requestSteal(let worker, let key):
                steals[worker, default: []].append(key)
            case .free(let worker, let keys):
                if assigned[worker] != nil { assigned[worker]!.removeAll { keys.contains($0) } }
            case .notify(_, .inMemory):
                done += 1
            case .notify, .replicate, .close, .awaitExitReport, .disconnect, .killWorker, .stopNanny,
                .stopScheduler, .workerRemoved, .workerPauseChanged, .taskKilledWorkers:
                break
            }
        }
    }
}
