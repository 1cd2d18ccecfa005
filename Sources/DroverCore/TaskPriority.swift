/// Where a task stands among ready tasks: lower runs first.
public struct TaskPriority: Hashable, Sendable, Comparable {
    /// The submission it came with (earlier submissions first, like Dask's generation).
    public var generation: Int
    /// Its position in the client's plan of that submission.
    public var index: Int

    public init(generation: Int, index: Int) {
        self.generation = generation
        self.index = index
    }

    public static func < (lhs: TaskPriority, rhs: TaskPriority) -> Bool {
        (lhs.generation, lhs.index) < (rhs.generation, rhs.index)
    }
}
