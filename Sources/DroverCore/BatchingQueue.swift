import Synchronization

/// A queue with many senders and one reader, where the reader takes everything sent since it last
/// looked, as one batch (Dask's `BatchedSend`).
///
/// A connection's writer loops on ``next()``: while it writes one message, what the rest of the
/// process sends piles up and goes out as the next message. Under load the batches grow by
/// themselves; when idle, each item goes out at once. (A minimum interval between batches, as
/// Dask's `BatchedSend` has, was measured here and gained nothing: see the README's benchmarks.)
///
/// Instead of a reader task, a connection may drain the queue where it writes (its event loop):
/// ``drain(scheduling:write:)``. Then a send schedules one drain unless one is scheduled already,
/// and the drain writes everything sent until it runs as one batch: the same batching, without
/// waking a task to hand the batch on.
public final class BatchingQueue<Element: Sendable>: Sendable, AsyncSequence {
    private struct State {
        var items: [Element] = []
        var reader: CheckedContinuation<[Element]?, Never>?
        var isFinished = false
        /// Drain mode: schedules a drain (``drain(scheduling:write:)``).
        var scheduleDrain: (@Sendable () -> Void)?
        var isDrainScheduled = false
        /// Drain mode: resumed by the drain that finds the queue finished.
        var drained: CheckedContinuation<Void, Never>?
        /// The most the items waiting may weigh (``bound(limit:weight:overflow:)``), and what they weigh.
        var bound: Bound?
        var weight = 0
        /// What the waiting items weighed when the bound was passed.
        var overflow: Int?

        /// The items waiting, handed to the reader: none wait, and they weigh nothing.
        mutating func take() -> [Element] {
            weight = 0
            defer { items = [] }
            return items
        }
    }

    private struct Bound {
        var limit: Int
        var weight: @Sendable (Element) -> Int
        var overflow: @Sendable () -> Void
    }

    private let state = Mutex(State())

    public init() {}

    /// Bounds what may wait for the reader: once the items sent and not yet taken weigh more than
    /// `limit` by `weight`, the queue finishes (what is sent after is dropped), ``overflow`` says
    /// what they weighed, and `overflow` is called once. For a reader that cannot keep up (a peer
    /// that stopped reading), so that its queue does not grow without end. Items already taken do
    /// not count.
    public func bound(
        limit: Int, weight: @escaping @Sendable (Element) -> Int, overflow: @escaping @Sendable () -> Void
    ) {
        state.withLock { $0.bound = Bound(limit: limit, weight: weight, overflow: overflow) }
    }

    /// What the waiting items weighed when they passed the bound, once they have (the queue is
    /// finished then).
    public var overflow: Int? {
        state.withLock { $0.overflow }
    }

    /// Adds one item; dropped if the queue is finished.
    public func send(_ element: Element) {
        deliver { $0.append(element) }
    }

    /// Adds items in order; dropped if the queue is finished.
    public func send(contentsOf elements: some Sequence<Element>) {
        deliver { $0.append(contentsOf: elements) }
    }

    private func deliver(_ add: (inout [Element]) -> Void) {
        var schedule: (@Sendable () -> Void)?
        var overflowed: (@Sendable () -> Void)?
        let wake: (CheckedContinuation<[Element]?, Never>, [Element])? = state.withLock { state in
            guard !state.isFinished else { return nil }
            let before = state.items.count
            add(&state.items)
            if let bound = state.bound {
                state.weight += state.items[before...].reduce(0) { $0 + bound.weight($1) }
                if state.weight > bound.limit {
                    state.isFinished = true
                    state.overflow = state.weight
                    overflowed = bound.overflow
                }
            }
            if let scheduleDrain = state.scheduleDrain, !state.isDrainScheduled, !state.items.isEmpty {
                state.isDrainScheduled = true
                schedule = scheduleDrain
            }
            guard let reader = state.reader, !state.items.isEmpty else { return nil }
            state.reader = nil
            return (reader, state.take())
        }
        wake?.0.resume(returning: wake?.1)
        schedule?()
        overflowed?()
    }

    /// Ends the queue: the reader gets what is left, then `nil` (in drain mode, the last drain
    /// writes what is left and ``drain(scheduling:write:)`` returns).
    public func finish() {
        var schedule: (@Sendable () -> Void)?
        let reader = state.withLock { state in
            state.isFinished = true
            if let scheduleDrain = state.scheduleDrain, !state.isDrainScheduled {
                state.isDrainScheduled = true
                schedule = scheduleDrain
            }
            defer { state.reader = nil }
            return state.items.isEmpty ? state.reader : nil
        }
        reader?.resume(returning: nil)
        schedule?()
    }

    /// Hands every batch to `write`, run by `schedule` (a connection's event loop), until the queue
    /// is finished (or the calling task is cancelled, which finishes it); returns once the last
    /// batch is written. Takes the place of the reader: no ``next()`` meanwhile.
    ///
    /// A send schedules a drain only when none is scheduled, so whatever is sent before the drain
    /// runs goes out as one batch.
    ///
    /// - Parameters:
    ///   - schedule: Runs its argument soon, on the thread that writes (`eventLoop.execute`).
    ///   - write: Writes one batch; called by the drain, never concurrently with itself.
    public func drain(
        scheduling schedule: @escaping @Sendable (@escaping @Sendable () -> Void) -> Void,
        write: @escaping @Sendable ([Element]) -> Void
    ) async {
        let drain: @Sendable () -> Void = { [self] in
            let (batch, done) = state.withLock { state in
                state.isDrainScheduled = false
                let done = state.isFinished ? state.drained : nil
                if state.isFinished { state.drained = nil }
                return (state.take(), done)
            }
            if !batch.isEmpty { write(batch) }
            done?.resume()
        }
        let scheduleDrain: @Sendable () -> Void = { schedule(drain) }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let start = state.withLock { state in
                    precondition(state.reader == nil && state.scheduleDrain == nil, "BatchingQueue has one reader")
                    state.scheduleDrain = scheduleDrain
                    state.drained = continuation
                    guard !state.items.isEmpty || state.isFinished else { return false }
                    state.isDrainScheduled = true
                    return true
                }
                if start { scheduleDrain() }
            }
        } onCancel: {
            finish()
        }
    }

    /// Everything sent since the last call, waiting until there is something; `nil` once the queue
    /// is finished and empty, or the reading task is cancelled. One reader at a time.
    public func next() async -> [Element]? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<[Element]?, Never>) in
                let ready: [Element]?? = state.withLock { state in
                    if !state.items.isEmpty { return .some(state.take()) }
                    if state.isFinished { return .some(nil) }
                    precondition(state.reader == nil, "BatchingQueue has one reader at a time")
                    state.reader = continuation
                    return .none
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            finish()
        }
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let queue: BatchingQueue

        public mutating func next() async -> [Element]? {
            await queue.next()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(queue: self)
    }
}

extension Array {
    /// The array cut into consecutive parts of at most `maxCount` items and, by `size`'s
    /// estimate, about `maxBytes` (an item larger than that gets a part of its own): one message
    /// each, well inside gRPC's message size limit.
    public func batches(
        maxCount: Int = 4096, maxBytes: Int = 4 << 20, size: (Element) -> Int = { _ in 64 }
    ) -> [ArraySlice<Element>] {
        var parts: [ArraySlice<Element>] = []
        var start = startIndex
        var bytes = 0
        for index in indices {
            let itemBytes = size(self[index])
            if index > start && (index - start >= maxCount || bytes + itemBytes > maxBytes) {
                parts.append(self[start..<index])
                start = index
                bytes = 0
            }
            bytes += itemBytes
        }
        if start < endIndex || parts.isEmpty { parts.append(self[start..<endIndex]) }
        return parts
    }
}
