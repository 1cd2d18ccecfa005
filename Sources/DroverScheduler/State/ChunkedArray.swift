/// An array kept in chunks of ``chunkSize`` elements: it grows one chunk at a time, so its room
/// exceeds its count by less than a chunk, and growing copies nothing already stored.
///
/// An `Array` doubles its room when full: 100,000 task records in an array of 131,072 took 31 %
/// more than they needed (and the doubling copied every record). Reads and writes of one element
/// go through two indexes, in place.
struct ChunkedArray<Element: Sendable>: Sendable, RandomAccessCollection {
    /// Elements per chunk (a power of two).
    static var chunkSize: Int { 1 << chunkShift }
    private static var chunkShift: Int { 12 }

    private var chunks: [[Element]] = []
    /// Elements stored.
    private(set) var count = 0

    init() {}

    var startIndex: Int { 0 }
    var endIndex: Int { count }

    /// Chunks allocated: the room is this times ``chunkSize``.
    var chunkCount: Int { chunks.count }

    subscript(position: Int) -> Element {
        _read {
            precondition(position >= 0 && position < count, "index \(position) out of range")
            yield chunks[position >> Self.chunkShift][position & (Self.chunkSize - 1)]
        }
        _modify {
            precondition(position >= 0 && position < count, "index \(position) out of range")
            yield &chunks[position >> Self.chunkShift][position & (Self.chunkSize - 1)]
        }
    }

    mutating func append(_ element: Element) {
        if count & (Self.chunkSize - 1) == 0 {
            var chunk: [Element] = []
            chunk.reserveCapacity(Self.chunkSize)
            chunks.append(chunk)
        }
        chunks[chunks.count - 1].append(element)
        count += 1
    }
}
