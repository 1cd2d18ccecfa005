/// A binary min-heap: the smallest element comes out first.
///
/// Inlinable so that schedulers in other modules get it specialized for their element type.
public struct MinHeap<Element: Comparable>: Sendable where Element: Sendable {
    @usableFromInline var items: [Element] = []

    public init() {}

    @inlinable public var isEmpty: Bool { items.isEmpty }
    @inlinable public var count: Int { items.count }

    @inlinable
    public mutating func push(_ element: Element) {
        items.append(element)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if !(items[child] < items[parent]) { break }
            items.swapAt(parent, child)
            child = parent
        }
    }

    @inlinable
    public mutating func pop() -> Element? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        if items.isEmpty { return first }
        items[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < items.count && items[left] < items[smallest] { smallest = left }
            if right < items.count && items[right] < items[smallest] { smallest = right }
            if smallest == parent { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
        return first
    }
}
