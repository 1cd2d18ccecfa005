import Foundation

/// The destination of a packed array that arrives as bytes (the bulk stream): allocated as the
/// Swift array its consumer decodes, written in place as the bytes arrive, then handed over as a
/// ``Payload`` whose `data` views that array's storage.
///
/// A task taking `[Double]` (`[UInt8]`, `[Float]`, `[Int]`, `[Int64]`) then gets the array itself
/// (``PackedNumber/decodeArray(payload:)``), not a copy into new memory: for 256 MiB a second
/// round of fresh pages less. `Data`-typed readers of the payload (``PackedArray``, spilling,
/// serving the value to another peer) read the same bytes through `data`, and the array's memory
/// is freed when both the payload's bytes and every array decoded from it are gone.
///
/// The array is copy-on-write: a task that changes its argument changes a copy, because the
/// payload still holds the storage. Nothing may write through the payload's `data` (nothing in
/// Drover does: a payload's bytes may as well be a peer's read-only mapping).
public struct IncomingPackedArray {
    /// Where the bytes go: exactly ``Payload/data``'s bytes. Write all of them before the payload
    /// is read.
    public let bytes: UnsafeMutableRawBufferPointer
    /// The payload, whose bytes are ``bytes``; it keeps the storage alive.
    public let payload: Payload

    /// Allocates the array for a packed payload of `byteCount` bytes, or returns nil when
    /// `encoding` is not a packed one (or `byteCount` is not a whole, positive number of its
    /// elements): such bytes go to a buffer of their own.
    ///
    /// `[Int]` and `[Int64]` share an encoding: the array is `[Int64]` when `typeName` says so,
    /// else `[Int]`.
    public init?(encoding: Payload.Encoding, typeName: String, byteCount: Int) {
        let made: (UnsafeMutableRawBufferPointer, Data, any Sendable)?
        switch encoding {
        case .float64LE: made = Self.allocate(Double.self, byteCount: byteCount)
        case .uint8: made = Self.allocate(UInt8.self, byteCount: byteCount)
        case .float32LE: made = Self.allocate(Float.self, byteCount: byteCount)
        case .int64LE:
            made =
                typeName == [Int64].taskTypeName
                ? Self.allocate(Int64.self, byteCount: byteCount) : Self.allocate(Int.self, byteCount: byteCount)
        default: made = nil
        }
        guard let (bytes, data, storage) = made else { return nil }
        self.bytes = bytes
        var payload = Payload(encoding: encoding, data: data, typeName: typeName)
        payload.storage = storage
        self.payload = payload
    }

    /// An array of `byteCount` bytes of `Element`s whose values are whatever the allocator gave
    /// (`Element` is a plain number: any bits are a value, and none has a deinitializer), its
    /// storage's address, and a `Data` over that storage that keeps the array alive.
    private static func allocate<Element: PackedNumber>(
        _: Element.Type, byteCount: Int
    ) -> (UnsafeMutableRawBufferPointer, Data, any Sendable)? {
        let stride = MemoryLayout<Element>.stride
        guard byteCount > 0, byteCount % stride == 0 else { return nil }
        let count = byteCount / stride
        // Not filled here: the pages are put in place as the bytes arrive, not all at once.
        var array = [Element](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
        // A native array's storage stays where it is while the array lives and is not changed:
        // the copy the deallocator holds below is never changed, and neither is the payload's.
        let base = array.withUnsafeMutableBytes { $0.baseAddress! }
        let owner = array
        let data = Data(
            bytesNoCopy: base, count: byteCount, deallocator: .custom { _, _ in withExtendedLifetime(owner) {} })
        return (UnsafeMutableRawBufferPointer(start: base, count: byteCount), data, array)
    }
}

extension Payload {
    /// The array ``data`` is the storage of (``IncomingPackedArray``), when it is a `[Element]`
    /// of exactly those bytes; nil otherwise (another element type, or `data` replaced since).
    func packedStorage<Element: PackedNumber>(as _: [Element].Type) -> [Element]? {
        guard let storage, type(of: storage) == [Element].self, let array = storage as? [Element] else { return nil }
        let viewed = data.withUnsafeBytes { ($0.baseAddress, $0.count) }
        let owned = array.withUnsafeBytes { ($0.baseAddress, $0.count) }
        guard viewed.0 == owned.0, viewed.1 == owned.1 else { return nil }
        return array
    }
}
