import CDroverSupport
import Foundation
import Glibc

/// One value's bytes in a sealed memory file (memfd), to be handed to workers of the same host
/// instead of copied to them.
///
/// The file has no name in any directory: it exists while a descriptor or a mapping holds it,
/// so a process that dies (producer or consumer) leaves nothing behind. Once written it is sealed
/// against writes, shrinking and growing, so a consumer's read-only mapping can neither change
/// under it nor be cut short (no `SIGBUS`). Its pages are charged to the memory cgroup of the
/// process that wrote them: the producer.
final class SharedSegment: Sendable {
    /// The memfd; closed when the segment is freed (mappings outlive it).
    let descriptor: Int32
    /// The value's length in bytes.
    let length: Int

    private init(descriptor: Int32, length: Int) {
        self.descriptor = descriptor
        self.length = length
    }

    deinit { close(descriptor) }

    /// Copies `data` into a new sealed segment.
    ///
    /// - Parameter name: Shown in `/proc/<pid>/fd` as `/memfd:<name>`, for people.
    /// - Throws: ``SharedMemoryError`` when the kernel refuses (no memory, too many files).
    static func make(copying data: Data, name: String) throws(SharedMemoryError) -> SharedSegment {
        let descriptor = drover_memfd_create(name)
        guard descriptor >= 0 else { throw .system(errno, "cannot create a memory file for '\(name)'") }
        let segment = SharedSegment(descriptor: descriptor, length: data.count)
        guard data.count > 0 else {
            guard drover_memfd_seal(descriptor) == 0 else { throw .system(errno, "cannot seal '\(name)'") }
            return segment
        }
        // Allocate every page at once (cheaper than one fault per page), then copy through a
        // writable mapping that is gone before the seal (a write seal refuses while one exists).
        let allocated = drover_allocate(descriptor, data.count)
        guard allocated == 0 else { throw .system(errno, "cannot allocate \(data.count) bytes for '\(name)'") }
        guard
            let target = mmap(nil, data.count, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, descriptor, 0),
            target != MAP_FAILED
        else { throw .system(errno, "cannot map '\(name)' to write it") }
        data.withUnsafeBytes { source in _ = memcpy(target, source.baseAddress!, data.count) }
        munmap(target, data.count)
        guard drover_memfd_seal(descriptor) == 0 else { throw .system(errno, "cannot seal '\(name)'") }
        return segment
    }

    /// Takes a descriptor received from a peer, after checking that it is a sealed memory file of
    /// exactly `length` bytes; closes it when not.
    ///
    /// - Throws: ``SharedMemoryError`` naming the broken rule.
    static func adopt(descriptor: Int32, length: Int) throws(SharedMemoryError) -> SharedSegment {
        let segment = SharedSegment(descriptor: descriptor, length: length)
        guard drover_memfd_is_sealed(descriptor) == 1 else {
            throw SharedMemoryError(message: "the peer's segment is not a memory file sealed against writes")
        }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .system(errno, "cannot stat the peer's segment") }
        guard status.st_size == off_t(length) else {
            throw SharedMemoryError(message: "the peer's segment holds \(status.st_size) bytes, not \(length)")
        }
        return segment
    }

    /// The segment's bytes as `Data` over a read-only mapping, unmapped when the last copy of the
    /// `Data` goes (the mapping keeps the memory alive after this segment is freed). The page
    /// tables fill as pages are read: a consumer reading in place (`Data`, `PackedArray`) pays
    /// for what it reads, and one that copies it all into an array fills them first in one call
    /// (`Packing.unpack`).
    ///
    /// - Throws: ``SharedMemoryError`` when the mapping fails.
    func map() throws(SharedMemoryError) -> Data {
        guard length > 0 else { return Data() }
        guard let address = mmap(nil, length, PROT_READ, MAP_SHARED, descriptor, 0),
            address != MAP_FAILED
        else {
            throw .system(errno, "cannot map a segment of \(length) bytes")
        }
        let length = self.length
        return Data(bytesNoCopy: address, count: length, deallocator: .custom { pointer, _ in munmap(pointer, length) })
    }
}

/// Why a value could not be shared or mapped: the caller falls back to sending its bytes.
struct SharedMemoryError: Error, CustomStringConvertible {
    var message: String

    static func system(_ code: Int32, _ what: String) -> SharedMemoryError {
        SharedMemoryError(message: "\(what): \(String(cString: strerror(code)))")
    }

    var description: String { message }
}
