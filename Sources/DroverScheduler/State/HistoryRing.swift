/// A bounded log: keeps the last `capacity` elements appended, each numbered in the order it came.
///
/// Appending costs O(1) and never allocates once the ring is full. A reader that remembers
/// ``appended`` can later ask for only what came after (``elements(since:)``).
public struct HistoryRing<Element: Sendable>: Sendable {
    /// The most elements kept.
    public let capacity: Int
    private var storage: [Element] = []
    /// Where the oldest element is, once `storage` is full.
    private var head = 0
    /// How many elements were ever appended: the sequence number the next one gets.
    public private(set) var appended = 0

    /// Creates an empty ring that keeps at most `capacity` (at least 1) elements.
    public init(capacity: Int) {
        self.capacity = max(1, capacity)
        storage.reserveCapacity(self.capacity)
    }

    /// The number of elements kept.
    public var count: Int { storage.count }

    /// Appends `element`, dropping the oldest when full.
    public mutating func append(_ element: Element) {
        if storage.count < capacity {
            storage.append(element)
        } else {
            storage[head] = element
            head = (head + 1) % capacity
        }
        appended += 1
    }

    /// The kept elements whose sequence number is `cursor` or later, oldest first.
    ///
    /// - Parameter cursor: A sequence number, such as an earlier ``appended``; 0 for all.
    public func elements(since cursor: Int = 0) -> [Element] {
        let firstKept = appended - storage.count
        let start = max(cursor, firstKept)
        guard start < appended else { return [] }
        return (start..<appended).map { storage[($0 - firstKept + head) % capacity] }
    }
}
