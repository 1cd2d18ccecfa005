public import DroverCore

extension Delayed {
    /// Computes this value and everything it depends on.
    ///
    /// - Parameters:
    ///   - scheduler: The scheduler to use; by default the connected cluster client if there is
    ///     one (``Drover/defaultCluster``), else ``Drover/config``'s.
    ///   - profiler: Records where and when each task ran (local schedulers only).
    /// - Returns: The value.
    /// - Throws: ``TaskError`` for the first task that fails; ``GraphError`` for an invalid graph.
    public func compute(scheduler: Scheduler? = nil, profiler: TaskProfiler? = nil) async throws -> Value {
        if scheduler == nil, let cluster = Drover.defaultCluster {
            return try Value.decode(argument: try await cluster.compute([node])[0])
        }
        let results = try await LocalScheduler.compute(
            try GraphPlan(roots: [node]),
            scheduler: scheduler ?? Drover.config.scheduler,
            profiler: profiler
        )
        return try Value.decode(argument: results[0])
    }
}

extension Drover {
    /// Computes several lazy values in one pass, sharing their common tasks, like
    /// `dask.compute(a, b)`.
    public static func compute<each Value: TaskValue>(
        _ values: repeat Delayed<each Value>,
        scheduler: Scheduler? = nil,
        profiler: TaskProfiler? = nil
    ) async throws -> (repeat each Value) {
        var nodes: [DelayedNode] = []
        for value in repeat each values { nodes.append(value.node) }
        let results: [ArgumentValue]
        if scheduler == nil, let cluster = defaultCluster {
            results = try await cluster.compute(nodes)
        } else {
            results = try await LocalScheduler.compute(
                try GraphPlan(roots: nodes),
                scheduler: scheduler ?? config.scheduler,
                profiler: profiler
            )
        }
        var index = 0
        func next<T: TaskValue>(_ type: T.Type) throws -> T {
            defer { index += 1 }
            return try T.decode(argument: results[index])
        }
        return (repeat try next((each Value).self))
    }

    /// Computes the keys `targets` of a graph given as specs, like `dask.get(dsk, keys)`.
    ///
    /// Functions are looked up by name in `registry` (or in the worker processes' registries for
    /// the processes scheduler).
    public static func compute(
        _ graph: TaskGraph,
        targets: [TaskKey],
        scheduler: Scheduler? = nil,
        profiler: TaskProfiler? = nil
    ) async throws -> [ArgumentValue] {
        try await LocalScheduler.compute(
            graph, targets: targets, scheduler: scheduler ?? config.scheduler, profiler: profiler)
    }
}
