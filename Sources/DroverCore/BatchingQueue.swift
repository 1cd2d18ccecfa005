import Synchronization

/// A queue with many senders and one reader, where the reader takes everything sent since it last
/// looked, as one batch (Dask's `BatchedSend`).
///
/// A connection's writer loops on ``next()``: while it writes one message, what the rest of the
/// process sends piles up and goes out as the next message. Under load the batches grow by
/// themselves; when idle, each item goes out at once. (A minimum interval between batches, as
/// Dask's `BatchedSend` has, was measured here and gained nothing: see the README's benchmarks.)
public final class BatchingQueue<Element: Sendable>: Sendable, AsyncSequence {
    private struct State {
        var items: [Element] = []
        var reader: CheckedContinuation<[Element]?, Never>?
        var isFinished = false
    }

    private let state = Mutex(State())

    public init() {}

    /// Adds one item; dropped if the queue is finished.
    public func send(_ element: Element) {
        deliver { $0.append(element) }
    }

    /// Adds items in order; dropped if the queue is finished.
    public func send(contentsOf elements: some Sequence<Element>) {
        deliver { $0.append(contentsOf: elements) }
    }

    private func deliver(_ add: (inout [Element]) -> Void) {
        let wake: (CheckedContinuation<[Element]?, Never>, [Element])? = state.withLock { state in
            guard !state.isFinished else { return nil }
            add(&state.items)
            guard let reader = state.reader, !state.items.isEmpty else { return nil }
            state.reader = nil
            defer { state.items = [] }
            return (reader, state.items)
        }
        wake?.0.resume(returning: wake?.1)
    }

    /// Ends the queue: the reader gets what is left, then `nil`.
    public func finish() {
        let reader = state.withLock { state in
            state.isFinished = true
            defer { state.reader = nil }
            return state.items.isEmpty ? state.reader : nil
        }
        reader?.resume(returning: nil)
    }

    /// Everything sent since the last call, waiting until there is something; `nil` once the queue
    /// is finished and empty, or the reading task is cancelled. One reader at a time.
    public func next() async -> [Element]? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<[Element]?, Never>) in
                let ready: [Element]?? = state.withLock { state in
                    if !state.items.isEmpty {
                        defer { state.items = [] }
                        return .some(state.items)
                    }
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
