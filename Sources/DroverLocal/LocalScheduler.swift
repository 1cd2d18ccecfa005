public import DroverCore
import Foundation

/// The single-machine schedulers: one scheduling loop (``LocalSchedulerState``) over a runner
/// that executes tasks inline, on a thread pool, or in child processes.
public enum LocalScheduler {
    /// Computes `targets` of `graph` and returns their results in order.
    ///
    /// - Throws: ``GraphError`` when the graph is invalid, ``TaskError`` for the first task that
    ///   fails (nothing new starts after it).
    public static func compute(
        _ graph: TaskGraph,
        targets: [TaskKey],
        scheduler: Scheduler,
        profiler: TaskProfiler? = nil
    ) async throws -> [ArgumentValue] {
        try await compute(try graph.plan(targets: targets), scheduler: scheduler, profiler: profiler)
    }

    /// Computes the targets of a plan and returns their results in order.
    ///
    /// - Throws: ``TaskError`` for the first task that fails (nothing new starts after it).
    public static func compute(
        _ plan: GraphPlan,
        scheduler: Scheduler,
        profiler: TaskProfiler? = nil
    ) async throws -> [ArgumentValue] {
        let workers = resolvedWorkers(scheduler)
        switch scheduler.kind {
        case .singleThreaded:
            let thread = ThreadPool(threads: 1, name: "drover-single")
            defer { thread.shutdown() }
            let runner = InProcessRunner(pool: thread, slots: 1, recordsThreads: profiler != nil)
            // The loop itself runs on the one thread, and each task inline in it.
            return try await withTaskExecutorPreference(thread) {
                try await runInline(plan, runner: runner, profiler: profiler)
            }
        case .threads:
            let pool = ThreadPool(threads: workers, name: "drover-thread")
            defer { pool.shutdown() }
            return try await runConcurrently(
                plan,
                runner: InProcessRunner(pool: pool, slots: workers, recordsThreads: profiler != nil),
                profiler: profiler
            )
        case .processes:
            let executable = scheduler.executable ?? ProcessPool.currentExecutable
            let pool = ProcessPool.shared(executable: executable, size: workers)
            return try await runConcurrently(plan, runner: pool, profiler: profiler)
        }
    }

    /// The worker count a scheduler runs with: its own, else the configured one, else one per core.
    public static func resolvedWorkers(
        _ scheduler: Scheduler,
        configuration: Drover.Configuration = Drover.config
    ) -> Int {
        if scheduler.kind == .singleThreaded { return 1 }
        return max(1, scheduler.workers ?? configuration.workers ?? ProcessInfo.processInfo.activeProcessorCount)
    }

    // MARK: - The loop

    /// One task at a time, awaited in place: no child tasks, no hops.
    private static func runInline(
        _ plan: GraphPlan,
        runner: some TaskRunner,
        profiler: TaskProfiler?
    ) async throws -> [ArgumentValue] {
        var state = LocalSchedulerState(plan: plan, slots: 1)
        var results = [ArgumentValue?](repeating: nil, count: plan.count)
        var actions: [LocalSchedulerState.Action] = []
        state.handle(.started, into: &actions)
        var next = 0
        while next < actions.count {
            let action = actions[next]
            next += 1
            switch action {
            case .run(let index):
                let task = readyTask(index, plan: plan, results: results)
                let run = await timed(task, runner: runner, profiler: profiler)
                switch run.outcome {
                case .success(let value):
                    results[index] = value
                    state.handle(.taskFinished(index), into: &actions)
                case .failure(let error):
                    state.handle(.taskFailed(index, error), into: &actions)
                }
            case .release(let index):
                results[index] = nil
            case .finish:
                return plan.targets.map { results[$0]! }
            case .fail(let error):
                throw error
            }
            if next > 256 {
                actions.removeFirst(next)
                next = 0
            }
        }
        preconditionFailure("The local scheduler stopped without finishing or failing.")
    }

    /// Up to `runner.slots` tasks at once, each a child task on the runner's executor.
    private static func runConcurrently(
        _ plan: GraphPlan,
        runner: some TaskRunner,
        profiler: TaskProfiler?
    ) async throws -> [ArgumentValue] {
        var state = LocalSchedulerState(plan: plan, slots: runner.slots)
        var results = [ArgumentValue?](repeating: nil, count: plan.count)
        var actions: [LocalSchedulerState.Action] = []
        state.handle(.started, into: &actions)
        return try await withThrowingTaskGroup(of: (Int, TaskRun).self) { group in
            var failure: TaskError?
            while true {
                for action in actions {
                    switch action {
                    case .run(let index):
                        let task = readyTask(index, plan: plan, results: results)
                        group.addTask(executorPreference: runner.executor) {
                            (index, await timed(task, runner: runner, profiler: profiler))
                        }
                    case .release(let index):
                        results[index] = nil
                    case .finish:
                        return plan.targets.map { results[$0]! }
                    case .fail(let error):
                        failure = error
                        group.cancelAll()
                    }
                }
                actions.removeAll(keepingCapacity: true)
                guard let (index, run) = try await group.next() else { break }
                switch run.outcome {
                case .success(let value):
                    results[index] = value
                    state.handle(.taskFinished(index), into: &actions)
                case .failure(let error):
                    state.handle(.taskFailed(index, error), into: &actions)
                }
            }
            if let failure { throw failure }
            preconditionFailure("The local scheduler ran out of tasks without finishing or failing.")
        }
    }

    private static func timed(_ task: ReadyTask, runner: some TaskRunner, profiler: TaskProfiler?) async -> TaskRun {
        guard let profiler else { return await runner.run(task) }
        let start = ContinuousClock.now
        let run = await runner.run(task)
        let succeeded = if case .success = run.outcome { true } else { false }
        profiler.record(
            .init(
                key: task.key, function: task.function, processID: run.processID, thread: run.thread,
                start: start, end: .now, succeeded: succeeded
            )
        )
        return run
    }

    private static func readyTask(_ index: Int, plan: GraphPlan, results: [ArgumentValue?]) -> ReadyTask {
        let task = plan.tasks[index]
        return ReadyTask(
            index: index,
            key: task.spec.key,
            function: task.spec.function,
            implementation: task.function,
            arguments: plan.resolvedArguments(
                of: index,
                value: { .payload($0) },
                reference: { results[$0]! },
                list: { .list($0) }
            )
        )
    }
}
