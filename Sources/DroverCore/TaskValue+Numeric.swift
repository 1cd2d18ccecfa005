public import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A fixed-width number stored as packed little-endian bytes (`Int`, `Int64`, `Double`, `Float`,
/// `UInt8`): arrays of it travel as their bytes, and ``PackedArray`` reads them in place.
public protocol PackedNumber: TaskValue, Codable, BitwiseCopyable {
    /// The payload encoding of packed arrays of this type.
    static var packedEncoding: Payload.Encoding { get }
}

extension PackedNumber {
    public func encodePayload() throws -> Payload {
        Payload(encoding: Self.packedEncoding, data: Packing.pack([self]), typeName: Self.taskTypeName)
    }

    public static func decode(payload: Payload) throws -> Self {
        try checkType(of: payload)
        if payload.encoding == .json {
            return try JSONCoding.decode(Self.self, from: payload, typeName: taskTypeName)
        }
        let values: [Self] = try Packing.unpack(payload, as: packedEncoding, typeName: taskTypeName)
        guard values.count == 1 else {
            throw PayloadError.malformed(taskTypeName, "expected one value, found \(values.count)")
        }
        return values[0]
    }

    public static func encodeArray(_ values: [Self]) throws -> Payload {
        Payload(encoding: packedEncoding, data: Packing.pack(values), typeName: "[\(taskTypeName)]")
    }

    public static func decodeArray(payload: Payload) throws -> [Self] {
        try checkType(of: payload, expected: "[\(taskTypeName)]")
        if payload.encoding == .json {
            return try JSONCoding.decode([Self].self, from: payload, typeName: "[\(taskTypeName)]")
        }
        // Bytes received straight into an array of this type (``IncomingPackedArray``): that array.
        if payload.encoding == packedEncoding, let array = payload.packedStorage(as: [Self].self) {
            return array
        }
        return try Packing.unpack(payload, as: packedEncoding, typeName: "[\(taskTypeName)]")
    }
}

/// Packs fixed-width values into bytes with one copy (no per-element encoding on little-endian
/// hosts, which is every host Swift runs on today).
enum Packing {
    static func pack<T: BitwiseCopyable>(_ values: [T]) -> Data {
        values.withUnsafeBytes { source in
            guard source.count >= 2 * HugePages.size else { return Data(source) }
            var data = Data(count: source.count)
            data.withUnsafeMutableBytes { target in
                HugePages.advise(target)
                target.copyMemory(from: source)
            }
            return data
        }
    }

    static func unpack<T: BitwiseCopyable>(
        _ payload: Payload,
        as encoding: Payload.Encoding,
        typeName: String
    ) throws -> [T] {
        guard payload.encoding == encoding else {
            throw PayloadError.malformed(typeName, "expected \(encoding) bytes, got \(payload.encoding)")
        }
        let stride = MemoryLayout<T>.stride
        guard payload.data.count % stride == 0 else {
            throw PayloadError.malformed(
                typeName,
                "\(payload.data.count) bytes is not a whole number of \(stride)-byte values"
            )
        }
        let count = payload.data.count / stride
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            HugePages.advise(UnsafeMutableRawBufferPointer(buffer))
            payload.data.withUnsafeBytes { raw in
                // The bytes may be a peer's shared memory, mapped without its page tables filled
                // (a `PackedArray` or `Data` consumer never touches most of it): fill them in one
                // call before reading all of it.
                PageTables.populate(raw)
                if count > 0 {
                    UnsafeMutableRawBufferPointer(buffer).copyMemory(from: raw)
                }
            }
            initialized = count
        }
    }
}

/// Mappings read from end to end.
enum PageTables {
    /// Fills the page tables of a large mapping for reading (`MADV_POPULATE_READ`): one system
    /// call instead of a page fault per 4 KiB page (~2x faster to copy 256 MiB out of a fresh
    /// mapping here). A hint: kernels before 5.14 refuse it and nothing changes.
    static func populate(_ buffer: UnsafeRawBufferPointer) {
        #if os(Linux)
            guard let base = buffer.baseAddress, buffer.count >= 2 * HugePages.size else { return }
            let page = Int(getpagesize())
            let start = Int(bitPattern: base) & ~(page - 1)
            guard let aligned = UnsafeMutableRawPointer(bitPattern: start) else { return }
            let populateRead: Int32 = 22  // MADV_POPULATE_READ, which Glibc's Swift module does not name
            _ = madvise(aligned, Int(bitPattern: base) + buffer.count - start, populateRead)
        #endif
    }
}

/// Large arrays filled at once are fresh memory, faulted in page by page as they are written;
/// asking for transparent huge pages makes that one fault per 2 MiB instead of per 4 KiB, the
/// difference between ~1.9 GiB/s and several times that for a copy into a new array here.
enum HugePages {
    static let size = 2 << 20

    /// Advises huge pages for the 2 MiB-aligned part of `buffer`, when it spans several (a hint:
    /// where the kernel has none to give, or is set to `never`, nothing changes).
    static func advise(_ buffer: UnsafeMutableRawBufferPointer) {
        #if os(Linux)
            guard let base = buffer.baseAddress, buffer.count >= 2 * size else { return }
            let start = (Int(bitPattern: base) + size - 1) & ~(size - 1)
            let end = (Int(bitPattern: base) + buffer.count) & ~(size - 1)
            guard end > start, let aligned = UnsafeMutableRawPointer(bitPattern: start) else { return }
            _ = madvise(aligned, end - start, MADV_HUGEPAGE)
        #endif
    }
}

extension Int: TaskValue, PackedNumber {
    public static var taskTypeName: String { "Int" }
    public static var packedEncoding: Payload.Encoding { .int64LE }
}
extension Int64: TaskValue, PackedNumber {
    public static var taskTypeName: String { "Int64" }
    public static var packedEncoding: Payload.Encoding { .int64LE }
}
extension Double: TaskValue, PackedNumber {
    public static var taskTypeName: String { "Double" }
    public static var packedEncoding: Payload.Encoding { .float64LE }
}
extension Float: TaskValue, PackedNumber {
    public static var taskTypeName: String { "Float" }
    public static var packedEncoding: Payload.Encoding { .float32LE }
}
extension UInt8: TaskValue, PackedNumber {
    public static var taskTypeName: String { "UInt8" }
    public static var packedEncoding: Payload.Encoding { .uint8 }
}
extension Int32: TaskValue {
    public static var taskTypeName: String { "Int32" }
}

extension Data: TaskValue {
    public static var taskTypeName: String { "Data" }

    public func encodePayload() throws -> Payload {
        Payload(encoding: .raw, data: self, typeName: Self.taskTypeName)
    }

    public static func decode(payload: Payload) throws -> Data {
        try checkType(of: payload)
        guard payload.encoding == .raw else {
            throw PayloadError.malformed(taskTypeName, "expected raw bytes, got \(payload.encoding)")
        }
        return payload.data
    }
}
