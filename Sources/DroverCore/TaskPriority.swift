/// Which ready task runs first: the lowest value. Dask's priority tuple, without the fine parts.
public struct TaskPriority: Hashable, Sendable, Comparable {
    /// The user's priority (`submit(…, priority:)`): higher runs first, before anything else counts.
    public var user: Int
    /// The submission it came with (earlier submissions first, like Dask's generation).
    public var generation: Int
    /// Its position in the client's plan of that submission.
    public var index: Int

    public init(user: Int = 0, generation: Int, index: Int) {
        self.user = user
        self.generation = generation
        self.index = index
    }

    public static func < (lhs: TaskPriority, rhs: TaskPriority) -> Bool {
        (-lhs.user, lhs.generation, lhs.index) < (-rhs.user, rhs.generation, rhs.index)
    }
}
