public import DroverCore

/// A min-heap of tasks by priority. Entries are not removed when a task leaves the queue: the
/// reader skips keys whose task is no longer queued.
struct PriorityQueue: Sendable {
    private var heap: [(priority: TaskPriority, key: TaskKey)] = []

    var isEmpty: Bool { heap.isEmpty }
    var count: Int { heap.count }

    mutating func push(_ key: TaskKey, priority: TaskPriority) {
        heap.append((priority, key))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if heap[parent].priority <= heap[child].priority { break }
            heap.swapAt(parent, child)
            child = parent
        }
    }

    mutating func pop() -> TaskKey? {
        guard let first = heap.first else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                let right = left + 1
                var smallest = parent
                if left < heap.count && heap[left].priority < heap[smallest].priority { smallest = left }
                if right < heap.count && heap[right].priority < heap[smallest].priority { smallest = right }
                if smallest == parent { break }
                heap.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return first.key
    }
}
