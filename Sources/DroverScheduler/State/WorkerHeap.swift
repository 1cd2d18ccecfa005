public import DroverCore

/// Workers by how soon a new task would start on them: a binary min-heap that knows each worker's
/// position, so that a worker's rank changes, and a worker leaves, in O(log n).
///
/// The rank is the placement cost of a task without inputs (``SchedulerState/bestWorker(for:among:)``):
/// estimated seconds of work per thread, then tasks held, then the id.
public struct WorkerHeap: Sendable {
    /// Where a worker stands: lower ranks first.
    public struct Rank: Sendable, Comparable {
        public var start: Double
        public var tasks: Int
        public var id: WorkerID

        public init(start: Double, tasks: Int, id: WorkerID) {
            self.start = start
            self.tasks = tasks
            self.id = id
        }

        public static func < (lhs: Rank, rhs: Rank) -> Bool {
            (lhs.start, lhs.tasks, lhs.id) < (rhs.start, rhs.tasks, rhs.id)
        }
    }

    private var heap: [Rank] = []
    private var positions: [WorkerID: Int] = [:]

    public init() {}

    public var isEmpty: Bool { heap.isEmpty }
    public var count: Int { heap.count }
    /// The worker ranked first.
    public var first: WorkerID? { heap.first?.id }

    public func contains(_ id: WorkerID) -> Bool { positions[id] != nil }

    /// The workers, in no particular order.
    public var ids: Dictionary<WorkerID, Int>.Keys { positions.keys }

    /// Puts the worker in with this rank, or moves it there.
    public mutating func update(_ rank: Rank) {
        if let position = positions[rank.id] {
            let old = heap[position]
            heap[position] = rank
            if rank < old { siftUp(position) } else { siftDown(position) }
        } else {
            heap.append(rank)
            positions[rank.id] = heap.count - 1
            siftUp(heap.count - 1)
        }
    }

    public mutating func remove(_ id: WorkerID) {
        guard let position = positions.removeValue(forKey: id) else { return }
        let last = heap.removeLast()
        guard position < heap.count else { return }
        heap[position] = last
        positions[last.id] = position
        siftDown(position)
        siftUp(position)
    }

    /// The rank each worker is held at, for checks.
    public func rank(of id: WorkerID) -> Rank? { positions[id].map { heap[$0] } }

    /// Whether every parent ranks before its children and every position is right.
    public var isValid: Bool {
        for index in heap.indices {
            if positions[heap[index].id] != index { return false }
            if index > 0 && heap[index] < heap[(index - 1) / 2] { return false }
        }
        return positions.count == heap.count
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child] < heap[parent] else { break }
            swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            var smallest = parent
            let left = 2 * parent + 1
            let right = left + 1
            if left < heap.count && heap[left] < heap[smallest] { smallest = left }
            if right < heap.count && heap[right] < heap[smallest] { smallest = right }
            guard smallest != parent else { return }
            swapAt(parent, smallest)
            parent = smallest
        }
    }

    private mutating func swapAt(_ i: Int, _ j: Int) {
        heap.swapAt(i, j)
        positions[heap[i].id] = i
        positions[heap[j].id] = j
    }
}
