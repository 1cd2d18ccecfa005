public import Foundation

/// A read-only array of numbers that decodes without copying: its elements are read in place from
/// the bytes the value arrived in. For a result a worker of the same host shares (see the README's
/// "Transfer"), those bytes are the producer's memory, mapped read-only, so a task that takes a
/// `PackedArray<Double>` gets 1 GiB of doubles in the time of a mapping (numpy's zero-copy views in
/// Ray's object store are the same idea); a task that takes `[Double]` pays one copy into a new
/// array.
///
/// Its payload is the packed array's own (same type name, same bytes), so the two are
/// interchangeable: a task that returns `[Double]` may be consumed as `PackedArray<Double>` and
/// the reverse.
///
/// ```swift
/// let mean = TaskFunction("mean") { (values: PackedArray<Double>) -> Double in
///     values.withUnsafeBufferPointer { $0.reduce(0, +) } / Double(values.count)
/// }
/// ```
public struct PackedArray<Element: PackedNumber>: RandomAccessCollection, Sendable, Hashable {
    /// The packed little-endian elements.
    public let bytes: Data

    /// The elements of `values`, packed (one copy).
    public init(_ values: [Element]) {
        bytes = values.withUnsafeBytes { Data($0) }
    }

    /// The elements packed in `bytes`.
    ///
    /// - Throws: ``PayloadError`` (malformed) when `bytes` is not a whole number of elements.
    public init(bytes: Data) throws {
        guard bytes.count % MemoryLayout<Element>.stride == 0 else {
            throw PayloadError.malformed(
                Self.taskTypeName,
                "\(bytes.count) bytes is not a whole number of \(MemoryLayout<Element>.stride)-byte values")
        }
        self.bytes = bytes
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { bytes.count / MemoryLayout<Element>.stride }

    public subscript(position: Int) -> Element {
        precondition(indices.contains(position), "index \(position) out of range 0..<\(count)")
        return bytes.withUnsafeBytes {
            $0.loadUnaligned(fromByteOffset: position * MemoryLayout<Element>.stride, as: Element.self)
        }
    }

    /// Calls `body` with the elements in place; when the bytes are not aligned for `Element` (a
    /// value that arrived inside a larger message), with an aligned copy.
    public func withUnsafeBufferPointer<Result>(_ body: (UnsafeBufferPointer<Element>) throws -> Result) rethrows
        -> Result
    {
        try bytes.withUnsafeBytes { raw in
            if let base = raw.baseAddress, Int(bitPattern: base) % MemoryLayout<Element>.alignment == 0 {
                return try body(raw.bindMemory(to: Element.self))
            }
            return try Array(self).withUnsafeBufferPointer(body)
        }
    }

    /// The elements as a Swift array (one copy).
    public var array: [Element] { withUnsafeBufferPointer { Array($0) } }
}

extension PackedArray: TaskValue {
    /// The same name as `[Element]`'s payloads: the two decode each other's.
    public static var taskTypeName: String { "[\(Element.taskTypeName)]" }

    public func encodePayload() throws -> Payload {
        Payload(encoding: Element.packedEncoding, data: bytes, typeName: Self.taskTypeName)
    }

    public static func decode(payload: Payload) throws -> PackedArray {
        try checkType(of: payload)
        guard payload.encoding == Element.packedEncoding else {
            if payload.encoding == .json {
                return PackedArray(try [Element].decode(payload: payload))
            }
            throw PayloadError.malformed(
                taskTypeName, "expected \(Element.packedEncoding) bytes, got \(payload.encoding)")
        }
        return try PackedArray(bytes: payload.data)
    }
}
