import DroverCore
import Synchronization
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

    // MARK: - Drain mode

    /// Runs what the queue schedules when told to, as an event loop would: one drain at a time.
    final class ManualLoop: Sendable {
        private let pending = Mutex<[@Sendable () -> Void]>([])
        let written = Mutex<[[Int]]>([])
        /// Set when the drain returned.
        let returned = Mutex(false)

        func schedule(_ work: @escaping @Sendable () -> Void) {
            pending.withLock { $0.append(work) }
        }

        /// Runs everything scheduled so far; returns how many drains ran.
        @discardableResult
        func run() -> Int {
            let work = pending.withLock { pending in
                defer { pending = [] }
                return pending
            }
            for item in work { item() }
            return work.count
        }

        func write(_ batch: [Int]) {
            written.withLock { $0.append(batch) }
        }
    }

    /// Drains `queue` into `loop` in a task; `loop.returned` turns true when the drain returns.
    @discardableResult
    static func startDraining(_ queue: BatchingQueue<Int>, into loop: ManualLoop) -> Task<Void, Never> {
        Task {
            await queue.drain(scheduling: loop.schedule, write: loop.write)
            loop.returned.withLock { $0 = true }
        }
    }

    @Test(.timeLimit(.minutes(1))) func aDrainWritesWhatWasSentBeforeItRanAsOneBatch() async {
        let queue = BatchingQueue<Int>()
        let loop = ManualLoop()
        queue.send(1)
        queue.send(contentsOf: [2, 3])
        Self.startDraining(queue, into: loop)
        while loop.written.withLock({ $0.isEmpty }) {
            loop.run()
            await Task.yield()
        }
        // Three sends while no drain runs: one drain is scheduled, and it writes them together.
        queue.send(4)
        queue.send(5)
        queue.send(6)
        #expect(loop.run() == 1)
        queue.finish()
        queue.send(7)  // dropped: the queue is finished
        while !loop.returned.withLock({ $0 }) {
            loop.run()
            await Task.yield()
        }
        #expect(loop.written.withLock { $0 } == [[1, 2, 3], [4, 5, 6]])
    }

    @Test(.timeLimit(.minutes(1))) func aQueueFinishedBeforeItsDrainStartsEndsTheDrain() async {
        let queue = BatchingQueue<Int>()
        let loop = ManualLoop()
        queue.send(1)
        queue.finish()
        Self.startDraining(queue, into: loop)
        while !loop.returned.withLock({ $0 }) {
            loop.run()
            await Task.yield()
        }
        #expect(loop.written.withLock { $0 } == [[1]])
    }

    @Test(.timeLimit(.minutes(1))) func cancellingTheDrainFinishesTheQueue() async {
        let queue = BatchingQueue<Int>()
        let loop = ManualLoop()
        let task = Self.startDraining(queue, into: loop)
        task.cancel()
        while !loop.returned.withLock({ $0 }) {
            loop.run()
            await Task.yield()
        }
        queue.send(1)  // dropped: cancelling finished the queue
        #expect(loop.run() == 0)
        #expect(loop.written.withLock { $0 }.isEmpty)
    }

    @Test func arraysAreCutByCountAndByEstimatedBytes() {
        #expect([1, 2, 3, 4, 5].batches(maxCount: 2).map(Array.init) == [[1, 2], [3, 4], [5]])
        #expect([Int]().batches().map(Array.init) == [[]])
        // Sizes 3, 3, 10, 1 with at most 6 bytes: an oversize item travels alone.
        let parts = [3, 3, 10, 1].batches(maxBytes: 6, size: { $0 }).map(Array.init)
        #expect(parts == [[3, 3], [10], [1]])
    }

    @Test func aBoundedQueueFinishesAndSaysSoOnceWhatWaitsWeighsOverItsLimit() async {
        let queue = BatchingQueue<Int>()
        let overflows = Mutex(0)
        queue.bound(limit: 10, weight: { $0 }) { overflows.withLock { $0 += 1 } }
        queue.send(contentsOf: [4, 5])
        // Taken items no longer count.
        #expect(await queue.next() == [4, 5])
        queue.send(6)
        #expect(overflows.withLock { $0 } == 0)
        #expect(queue.overflow == nil)
        queue.send(contentsOf: [3, 2])
        #expect(overflows.withLock { $0 } == 1)
        #expect(queue.overflow == 11)
        // Finished: what is left is delivered, later sends are dropped, and no second call.
        queue.send(100)
        #expect(await queue.next() == [6, 3, 2])
        #expect(await queue.next() == nil)
        #expect(overflows.withLock { $0 } == 1)
        #expect(queue.overflow == 11)
    }

    @Test func aDrainTakesItsBatchesWeightToo() async {
        let queue = BatchingQueue<Int>()
        let overflows = Mutex(0)
        queue.bound(limit: 10, weight: { $0 }) { overflows.withLock { $0 += 1 } }
        let written = Mutex<[[Int]]>([])
        let drain = Task {
            await queue.drain(scheduling: { $0() }) { batch in written.withLock { $0.append(batch) } }
        }
        // Once the drain runs, each send is drained at once (it is scheduled in place): never over 10.
        queue.send(1)
        while written.withLock({ $0.isEmpty }) { await Task.yield() }
        for _ in 0..<5 { queue.send(8) }
        queue.finish()
        await drain.value
        #expect(overflows.withLock { $0 } == 0)
        #expect(written.withLock { $0.flatMap { $0 } } == [1, 8, 8, 8, 8, 8])
    }
}
