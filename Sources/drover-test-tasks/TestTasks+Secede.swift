import DroverClient
import DroverCore

/// Tasks that submit tasks, or wait on other tasks, through their worker's client.
extension TestTasks {
    /// Submits `plus(i, 1)` for each `i` in `0..<n` from inside the task (seceded meanwhile) and
    /// returns the sum of the results: `n * (n + 1) / 2`.
    static let fanOut = TaskFunction("test-fan-out") { (n: Int) async throws -> Int in
        try await Client.withWorkerClient { client in
            let futures = try (0..<n).map { try client.submit(Builtins.plus, $0, 1) }
            return try await client.gather(futures).reduce(0, +)
        }
    }

    /// Secedes, waits (at most 30 s) for the event `name` to be set by another task, rejoins,
    /// and returns 1. On a worker of one thread, it finishes only if seceding let the other task run.
    static let waitForEvent = TaskFunction("test-wait-for-event") { (name: String) async throws -> Int in
        guard let context = WorkerContext.current else { throw Boom(description: "not on a cluster worker") }
        await context.secede()
        let client = try await Client.forCurrentTask()
        try await Event(name, client: client).wait(timeout: .seconds(30))
        await context.rejoin()
        return 1
    }

    /// Sets the event `name` through the worker's client (without seceding) and returns 2.
    static let setEvent = TaskFunction("test-set-event") { (name: String) async throws -> Int in
        Event(name, client: try await Client.forCurrentTask()).set()
        return 2
    }

    /// The worker running it, as `WorkerContext.current` says: `[id, name, address]`, or `[]`
    /// outside a cluster worker.
    static let whereAmI = TaskFunction("test-where-am-i") { (_: Int) -> [String] in
        guard let context = WorkerContext.current else { return [] }
        return [context.id, context.name, context.address]
    }
}
