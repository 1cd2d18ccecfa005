/// A set of 32-bit numbers (task slots, worker and client numbers) that holds one element inline,
/// a few in a small array, and only more in a `Set`: 8 bytes in all.
///
/// A task record has five sets (dependencies, dependents, inputs awaited, holders, clients) and
/// most hold zero, one or two elements: a `Set` for each would cost an allocation of ~100 bytes
/// per non-empty set, and hashing for each look-up. Up to ``arrayLimit`` elements are searched
/// linearly. Not generic on purpose: a generic enum's layout is computed as the runtime does it,
/// without the spare bits of its payloads, and takes a ninth byte for its case (a 9-byte field
/// then takes 16 in a record); this one keeps its case in the references' spare bits (a `Set`
/// payload has none, hence the ``SetBox``).
public struct InlineSet: Sendable {
    public typealias Element = Int32

    /// A `Set` behind a reference with spare bits; copied before a change when shared.
    fileprivate final class SetBox: @unchecked Sendable {
        // Safety: changed only through `InlineSet`'s mutating methods, and only when
        // `isKnownUniquelyReferenced` (copy on write, as the standard collections do).
        var elements: Set<Element>

        init(_ elements: Set<Element>) {
            self.elements = elements
        }
    }

    fileprivate enum Storage: Sendable {
        case empty
        case one(Element)
        case few(ContiguousArray<Element>)
        case many(SetBox)
    }

    /// The most elements kept in an array; beyond, a `Set`.
    static var arrayLimit: Int { 8 }

    private var storage: Storage = .empty

    public init() {}

    public init<S: Sequence>(_ elements: S) where S.Element == Element {
        for element in elements { insert(element) }
    }

    public var isEmpty: Bool {
        if case .empty = storage { return true }
        return false
    }

    public var count: Int {
        switch storage {
        case .empty: 0
        case .one: 1
        case .few(let elements): elements.count
        case .many(let box): box.elements.count
        }
    }

    public func contains(_ element: Element) -> Bool {
        switch storage {
        case .empty: false
        case .one(let only): only == element
        case .few(let elements): elements.contains(element)
        case .many(let box): box.elements.contains(element)
        }
    }

    /// Adds `element`; false when it was there already.
    @discardableResult
    public mutating func insert(_ element: Element) -> (inserted: Bool, memberAfterInsert: Element) {
        switch storage {
        case .empty:
            storage = .one(element)
        case .one(let only):
            if only == element { return (false, only) }
            storage = .few([only, element])
        case .few(var elements):
            if let index = elements.firstIndex(of: element) { return (false, elements[index]) }
            storage = .empty  // let `elements` be the array's only reference
            if elements.count < Self.arrayLimit {
                elements.append(element)
                storage = .few(elements)
            } else {
                var set = Set(elements)
                set.insert(element)
                storage = .many(SetBox(set))
            }
        case .many(var box):
            storage = .empty  // let `box` be the only reference when it is not shared
            if !isKnownUniquelyReferenced(&box) { box = SetBox(box.elements) }
            let result = box.elements.insert(element)
            storage = .many(box)
            return result
        }
        return (true, element)
    }

    /// Removes `element` and returns it, or nil when it was not there.
    @discardableResult
    public mutating func remove(_ element: Element) -> Element? {
        switch storage {
        case .empty:
            return nil
        case .one(let only):
            guard only == element else { return nil }
            storage = .empty
            return only
        case .few(var elements):
            guard let index = elements.firstIndex(of: element) else { return nil }
            storage = .empty
            let removed = elements.remove(at: index)
            storage = elements.count == 1 ? .one(elements[0]) : .few(elements)
            return removed
        case .many(var box):
            storage = .empty
            if !isKnownUniquelyReferenced(&box) { box = SetBox(box.elements) }
            let removed = box.elements.remove(element)
            storage = box.elements.count == 1 ? .one(box.elements.first!) : .many(box)
            return removed
        }
    }

    public mutating func removeAll() {
        storage = .empty
    }

    public mutating func formUnion<S: Sequence>(_ other: S) where S.Element == Element {
        for element in other { insert(element) }
    }
}

extension InlineSet: Sequence {
    public struct Iterator: IteratorProtocol {
        private var only: Element?
        private var array: ContiguousArray<Element>.Iterator?
        private var set: Set<Element>.Iterator?

        fileprivate init(_ storage: Storage) {
            switch storage {
            case .empty: break
            case .one(let element): only = element
            case .few(let elements): array = elements.makeIterator()
            case .many(let box): set = box.elements.makeIterator()
            }
        }

        public mutating func next() -> Element? {
            if let element = only {
                only = nil
                return element
            }
            if array != nil { return array!.next() }
            if set != nil { return set!.next() }
            return nil
        }
    }

    public func makeIterator() -> Iterator { Iterator(storage) }

    public var underestimatedCount: Int { count }
}

extension InlineSet: Equatable {
    /// Equal when both hold the same elements, however they are stored.
    public static func == (lhs: InlineSet, rhs: InlineSet) -> Bool {
        lhs.count == rhs.count && lhs.allSatisfy { rhs.contains($0) }
    }
}

extension InlineSet: Hashable {
    public func hash(into hasher: inout Hasher) {
        // Order-independent, as `Set`'s is.
        var combined = 0
        for element in self { combined ^= element.hashValue }
        hasher.combine(count)
        hasher.combine(combined)
    }
}

extension InlineSet: ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: Element...) {
        self.init(elements)
    }
}

extension InlineSet: CustomStringConvertible {
    public var description: String { "[" + map { "\($0)" }.joined(separator: ", ") + "]" }
}
