import Foundation
import SwiftProtobuf

/// Length-prefixed protobuf messages over a blocking socket (to or from a child process): a 4-byte little-endian length, then the serialized message.
enum Frames {
    /// The largest frame accepted: a guard against a corrupt length, not a data limit.
    static let maximumLength = 1 << 31

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func write(_ message: some SwiftProtobuf.Message, to fd: Int32) throws {
        let body: [UInt8] = try message.serializedBytes()
        var length = UInt32(body.count).littleEndian
        try withUnsafeBytes(of: &length) { try writeAll($0, to: fd) }
        try body.withUnsafeBytes { try writeAll($0, to: fd) }
    }

    /// Reads one message; `nil` at a clean end of stream.
    static func read<M: SwiftProtobuf.Message>(_ type: M.Type, from fd: Int32) throws -> M? {
        var header = [UInt8](repeating: 0, count: 4)
        let headerRead = try header.withUnsafeMutableBytes { try readAll($0, from: fd) }
        if headerRead == 0 { return nil }
        guard headerRead == 4 else { throw Failure(description: "stream ended inside a frame header") }
        let length = Int(header[0]) | Int(header[1]) << 8 | Int(header[2]) << 16 | Int(header[3]) << 24
        guard length <= maximumLength else { throw Failure(description: "frame of \(length) bytes is too large") }
        var body = [UInt8](repeating: 0, count: length)
        let bodyRead = try body.withUnsafeMutableBytes { try readAll($0, from: fd) }
        guard bodyRead == length else { throw Failure(description: "stream ended inside a frame of \(length) bytes") }
        do {
            return try M(serializedBytes: body)
        } catch {
            throw Failure(description: "malformed \(M.protoMessageName) frame: \(error)")
        }
    }

    /// Waits until `fd` has data or end of stream; false on timeout.
    static func waitReadable(_ fd: Int32, milliseconds: Int32) -> Bool {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while true {
            let ready = poll(&descriptor, 1, milliseconds)
            if ready < 0 && errno == EINTR { continue }
            return ready > 0
        }
    }

    private static func writeAll(_ bytes: UnsafeRawBufferPointer, to fd: Int32) throws {
        var offset = 0
        while offset < bytes.count {
            // MSG_NOSIGNAL: a peer that died must be an error here, not a SIGPIPE that kills us.
            let written = send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if written < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "write failed: \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }

    /// Fills `buffer`; returns the bytes read, less than its size only at end of stream.
    private static func readAll(_ buffer: UnsafeMutableRawBufferPointer, from fd: Int32) throws -> Int {
        var offset = 0
        while offset < buffer.count {
            let count = Glibc.read(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if count < 0 {
                if errno == EINTR { continue }
                if errno == ECONNRESET { return offset }
                throw Failure(description: "read failed: \(String(cString: strerror(errno)))")
            }
            if count == 0 { return offset }
            offset += count
        }
        return offset
    }
}
