import DroverCore
import Foundation
import Testing

@testable import DroverWorker

/// A fresh directory under the system's temporary one, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("drover-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

@Suite struct DataStoreTests {
    let payloads: [TaskKey: Payload] = [
        "bytes": Payload(encoding: .raw, data: Data((0...255).map { UInt8($0) } + [0, 0, 255]), typeName: "[UInt8]"),
        "empty": Payload(encoding: .json, data: Data(), typeName: ""),
        "named": Payload(
            encoding: .init(rawValue: 99), data: Data("{\"é\":1}".utf8), typeName: "Dictionary<Ключ, 值>"),
    ]

    @Test func aSpilledValueComesBackByteForByte() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        var store = DataStore(directory: SpillDirectory(parent: temporary.path, pid: 42))
        for (key, payload) in payloads { store.put(key, payload) }
        let outcome = store.spill(payloads.keys.sorted())
        #expect(outcome.count == 3)
        #expect(outcome.failure == nil)
        #expect(store.managedBytes == 0)
        #expect(store.spilledBytes == payloads.values.reduce(0) { $0 + Int64($1.data.count) })
        #expect(store.directoryPath.hasPrefix("\(temporary.path)/drover-worker-42-"))
        #expect(store.directoryPath.count == "\(temporary.path)/drover-worker-42-".count + 16)
        for (key, payload) in payloads {
            #expect(try store.peek(key) == payload)
            #expect(store.typeName(of: key) == payload.typeName)
        }
        for (key, payload) in payloads { #expect(try store.load(key) == payload) }
        #expect(store.spilledBytes == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.directoryPath).isEmpty)
    }

    @Test func peekingLeavesAValueOnDiskAndLoadingBringsItBack() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        var store = DataStore(directory: SpillDirectory(parent: temporary.path, pid: 1))
        let value = payloads["bytes"]!
        store.put("a", value)
        store.put("b", value)
        _ = store.spill(["a"])
        #expect(try store.peek("a") == value)
        #expect(store.ledger.location(of: "a") == .disk)
        #expect(try store.load("a") == value)
        #expect(store.ledger.location(of: "a") == .memory)
        // Loaded back, it is the most recently used.
        #expect(store.ledger.leastRecentlyUsed.map(\.key) == ["b", "a"])
        #expect(store.managedBytes == 2 * Int64(value.data.count))
        try store.ledger.checkInvariants()
    }

    @Test func removingASpilledValueDeletesItsFileAndRemoveAllTheDirectory() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        var store = DataStore(directory: SpillDirectory(parent: temporary.path, pid: 7))
        store.put("a", payloads["bytes"]!)
        store.put("b", payloads["named"]!)
        _ = store.spill(["a", "b"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.directoryPath).count == 2)
        store.remove("a")
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.directoryPath).count == 1)
        #expect(try store.peek("a") == nil)
        #expect(!store.contains("a"))
        store.removeAll()
        #expect(!FileManager.default.fileExists(atPath: store.directoryPath))
        #expect(store.spilledBytes == 0)
    }

    @Test func aValueThatCannotBeWrittenStaysInMemory() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        // The spill directory's parent is a file: every write fails, as on a full disk.
        let blocker = "\(temporary.path)/not-a-directory"
        #expect(FileManager.default.createFile(atPath: blocker, contents: Data("x".utf8)))
        var store = DataStore(directory: SpillDirectory(parent: blocker, pid: 3))
        store.put("a", payloads["bytes"]!)
        store.put("b", payloads["named"]!)
        let outcome = store.spill(["a", "b"])
        #expect(outcome.count == 0)
        #expect(outcome.failure?.key == "a")
        #expect(try store.load("a") == payloads["bytes"]!)
        #expect(try store.load("b") == payloads["named"]!)
        #expect(store.spilledBytes == 0)
        #expect(store.managedBytes == Int64(payloads["bytes"]!.data.count + payloads["named"]!.data.count))
    }

    @Test func aSpilledValueStoredAgainReplacesTheFile() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        var store = DataStore(directory: SpillDirectory(parent: temporary.path, pid: 5))
        store.put("a", payloads["bytes"]!)
        _ = store.spill(["a"])
        store.put("a", payloads["named"]!)
        #expect(store.spilledBytes == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.directoryPath).isEmpty)
        #expect(try store.peek("a") == payloads["named"]!)
    }
}

@Suite struct DataStoreSharingTests {
    /// The memory model: an own segment counts as this worker's (managed, spillable, and spilling
    /// withdraws it); a value mapped from a peer counts 0 here and is never spilled.
    @Test func ownSegmentsCountAndSpillWhileBorrowedValuesDoNot() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        let server = try SegmentServer()
        defer { server.stop() }
        var store = DataStore(directory: SpillDirectory(parent: temporary.path, pid: 7), segmentServer: server)
        let data = SharedSegmentTests.bytes(1 << 20)
        let segment = try SharedSegment.make(copying: data, name: "own")
        let own = Payload(encoding: .raw, data: try segment.map(), typeName: "Data")
        store.put("own", own, segment: segment)
        store.putBorrowed("borrowed", Payload(encoding: .raw, data: data, typeName: "Data"))
        #expect(store.managedBytes == Int64(data.count))
        #expect(store.sharedBytes == Int64(data.count))
        #expect(store.borrowedBytes == Int64(data.count))
        let number = try #require(store.segmentNumber(of: "own"))
        #expect(store.segmentNumber(of: "borrowed") == nil)
        let reference = SharedSegmentTests.reference(server, number, length: data.count)
        #expect(try SegmentServer.fetch(reference).length == data.count)

        let outcome = store.spill(["borrowed", "own"])
        #expect(outcome.count == 1)
        #expect(store.ledger.location(of: "borrowed") == .memory)
        #expect(store.ledger.location(of: "own") == .disk)
        #expect(store.managedBytes == 0)
        #expect(store.sharedBytes == 0)
        #expect(try store.peek("own") == own)
        // Spilled, the segment is withdrawn: peers now get the bytes from disk.
        #expect(throws: SharedMemoryError.self) { try SegmentServer.fetch(reference) }

        store.remove("borrowed")
        #expect(store.borrowedBytes == 0)
        #expect(!store.contains("borrowed"))
    }
}
