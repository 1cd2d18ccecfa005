import DroverScheduler
import Testing

@Suite struct HistoryRingTests {
    @Test func keepsTheLastCapacityElementsInOrder() {
        var ring = HistoryRing<Int>(capacity: 3)
        #expect(ring.elements().isEmpty)
        for value in 0..<7 { ring.append(value) }
        #expect(ring.count == 3)
        #expect(ring.appended == 7)
        #expect(ring.elements() == [4, 5, 6])
    }

    @Test(arguments: [(0, [4, 5, 6]), (5, [5, 6]), (6, [6]), (7, []), (100, [])])
    func elementsSinceACursor(cursor: Int, expected: [Int]) {
        var ring = HistoryRing<Int>(capacity: 3)
        for value in 0..<7 { ring.append(value) }
        #expect(ring.elements(since: cursor) == expected)
    }

    @Test func beforeItFillsElementsSinceACursorAreThoseAppendedSince() {
        var ring = HistoryRing<String>(capacity: 10)
        ring.append("a")
        let cursor = ring.appended
        ring.append("b")
        ring.append("c")
        #expect(ring.elements(since: cursor) == ["b", "c"])
        #expect(ring.elements() == ["a", "b", "c"])
    }
}
