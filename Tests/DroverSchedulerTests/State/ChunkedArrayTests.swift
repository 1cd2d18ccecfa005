import Testing

@testable import DroverScheduler

@Suite struct ChunkedArrayTests {
    /// Appends across several chunk boundaries read back in order, change in place, and take
    /// less than one chunk of room beyond their count.
    @Test(arguments: [0, 1, 4095, 4096, 4097, 10_000])
    func agreesWithAnArray(count: Int) {
        var chunked = ChunkedArray<Int>()
        var reference: [Int] = []
        for value in 0..<count {
            chunked.append(value * 3)
            reference.append(value * 3)
        }
        #expect(chunked.count == count)
        #expect(Array(chunked) == reference)
        #expect(chunked.chunkCount == (count + ChunkedArray<Int>.chunkSize - 1) / ChunkedArray<Int>.chunkSize)
        for index in stride(from: 0, to: count, by: 7) {
            chunked[index] += 1
            reference[index] += 1
        }
        #expect(Array(chunked) == reference)
        #expect(chunked.enumerated().allSatisfy { reference[$0.offset] == $0.element })
    }

    @Test func optionalElementsChangeInPlace() {
        var chunked = ChunkedArray<String?>()
        for _ in 0..<5000 { chunked.append(nil) }
        chunked[4999] = "last"
        chunked[4999]! += "!"
        chunked[0] = "first"
        chunked[0] = nil
        #expect(chunked[4999] == "last!")
        #expect(chunked.compactMap { $0 } == ["last!"])
    }
}
