import DroverCore

/// Queued tasks by priority. Entries are not removed when a task leaves the queue: the reader skips
/// keys whose task is no longer queued.
struct PriorityQueue: Sendable {
    private struct Entry: Comparable, Sendable {
        var priority: TaskPriority
        var key: TaskKey

        static func < (lhs: Entry, rhs: Entry) -> Bool { lhs.priority < rhs.priority }
        static func == (lhs: Entry, rhs: Entry) -> Bool { lhs.priority == rhs.priority && lhs.key == rhs.key }
    }

    private var heap = MinHeap<Entry>()

    var isEmpty: Bool { heap.isEmpty }
    var count: Int { heap.count }

    mutating func push(_ key: TaskKey, priority: TaskPriority) {
        heap.push(Entry(priority: priority, key: key))
    }

    mutating func pop() -> TaskKey? {
        let key = heap.pop()?.key
        // A drained queue of a million tasks would keep 40 MB of capacity: give it back.
        if heap.isEmpty { heap = MinHeap() }
        return key
    }
}
