import DroverCore
import Testing

@Suite struct BatchingQueueTests {
    @Test func theReaderTakesEverythingSentSinceItLastLooked() async {
        let queue = BatchingQueue<Int>()
        queue.send(1)
        queue.send(contentsOf: [2, 3])
        #expect(await queue.next() == [1, 2, 3])
        queue.send(4)
        #expect(await queue.next() == [4])
    }

    @Test func aWaitingReaderWakesOnTheNextSend() async {
        let queue = BatchingQueue<Int>()
        async let batch = queue.next()
        // Whether the send comes before or after the reader waits, the reader gets it.
        queue.send(7)
        #expect(await batch == [7])
    }

    @Test func finishingDeliversWhatIsLeftThenEnds() async {
        let queue = BatchingQueue<String>()
        queue.send("a")
        queue.finish()
        queue.send("dropped")
        var batches: [[String]] = []
        for await batch in queue { batches.append(batch) }
        #expect(batches == [["a"]])
    }

    @Test func cancellingTheReaderEndsTheQueue() async {
        let queue = BatchingQueue<Int>()
        let reader = Task { await queue.next() }
        reader.cancel()
        #expect(await reader.value == nil)
    }

    @Test func manySendersLoseNothingAndKeepEachSendersOrder() async {
        let queue = BatchingQueue<(sender: Int, index: Int)>()
        await withTaskGroup(of: Void.self) { group in
            for sender in 0..<4 {
                group.addTask {
                    for index in 0..<1000 { queue.send((sender, index)) }
                }
            }
            group.addTask {
                var seen = [Int](repeating: 0, count: 4)
                while seen.reduce(0, +) < 4000, let batch = await queue.next() {
                    for item in batch {
                        #expect(item.index == seen[item.sender])
                        seen[item.sender] += 1
                    }
                }
                #expect(seen == [1000, 1000, 1000, 1000])
            }
        }
    }

    @Test func arraysAreCutByCountAndByEstimatedBytes() {
        #expect([1, 2, 3, 4, 5].batches(maxCount: 2).map(Array.init) == [[1, 2], [3, 4], [5]])
        #expect([Int]().batches().map(Array.init) == [[]])
        // Sizes 3, 3, 10, 1 with at most 6 bytes: an oversize item travels alone.
        let parts = [3, 3, 10, 1].batches(maxBytes: 6, size: { $0 }).map(Array.init)
        #expect(parts == [[3, 3], [10], [1]])
    }
}
