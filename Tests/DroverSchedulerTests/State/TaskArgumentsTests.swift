import DroverCore
import DroverTestKit
import Foundation
import Testing

@testable import DroverScheduler

@Suite struct TaskArgumentsTests {
    private func randomArgument(_ random: inout SeededRandom, depth: Int = 0) -> ArgumentSpec {
        switch Int.random(in: 0..<(depth < 3 ? 3 : 2), using: &random) {
        case 0:
            let encodings = [1, 2, 7, 0, -1, -300, Int.max, Int.min, 1 << 40]
            let length = [0, 1, 8, 14, 15, 127, 128, 300, 20_000].randomElement(using: &random)!
            let data = Data((0..<length).map { _ in UInt8.random(in: 0...255, using: &random) })
            let typeName = ["", "Int", "[Double]", "Ünïcødé ✓", String(repeating: "x", count: 200)]
                .randomElement(using: &random)!
            return .value(
                Payload(
                    encoding: .init(rawValue: encodings.randomElement(using: &random)!), data: data,
                    typeName: typeName))
        case 1:
            let key = ["k", "", "noop-5f0c3b9a2e7d41c8a6b3e1f0d2c4a697", "é-🔑"].randomElement(using: &random)!
            return .key(TaskKey(key + String(Int.random(in: 0..<1000, using: &random))))
        default:
            let count = Int.random(in: 0..<4, using: &random)
            return .list((0..<count).map { _ in randomArgument(&random, depth: depth + 1) })
        }
    }

    /// Many tasks' arguments (empty lists among them) in one arena each decode to what was put in.
    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func roundTrips(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        var lists: [[ArgumentSpec]] = []
        for _ in 0..<200 {
            let count = [0, 0, 1, 1, 2, 5].randomElement(using: &random)!
            lists.append((0..<count).map { _ in randomArgument(&random) })
        }
        let functions = ["f", "", "g", "é-ƒ", String(repeating: "h", count: 300)]
        var builder = ArgumentArena.Builder()
        for (index, list) in lists.enumerated() { builder.append(function: functions[index % functions.count], list) }
        let stored = builder.finish()
        #expect(stored.count == lists.count)
        for (index, (list, arguments)) in zip(lists, stored).enumerated() {
            #expect(arguments.decoded == list)
            #expect(arguments.function == functions[index % functions.count])
        }
        #expect(stored.reduce(0) { $0 + $1.encodedCount } == builder.bytes.count)
    }

    @Test func noArgumentsTakeTwoBytes() {
        #expect(TaskArguments().decoded == [])
        #expect(TaskArguments().function == "")
        #expect(TaskArguments().encodedCount == 0)
        var builder = ArgumentArena.Builder()
        builder.append(function: "f", [])
        let stored = builder.finish()
        #expect(stored.map(\.decoded) == [[]])
        #expect(stored.map(\.function) == ["f"])
        #expect(stored.map(\.encodedCount) == [2])  // the function's position and the count
        #expect(ArgumentArena.Builder().finish().isEmpty)
        #expect(TaskArguments.scatter.function == "scatter" && TaskArguments.scatter.decoded == [])
    }

    /// A no-op's one 8-byte literal takes 17 bytes with its function's position, where its arrays
    /// and boxes took ~110 and the name 16 more in the record.
    @Test func aSmallLiteralIsCompact() {
        var builder = ArgumentArena.Builder()
        builder.append(function: "noop", [.value(Payload(encoding: .raw, data: Data(count: 8), typeName: "Int"))])
        #expect(builder.finish()[0].encodedCount == 17)
    }

    /// Each distinct function name is kept once per arena, whatever the number of its tasks.
    @Test func functionNamesAreKeptOnce() {
        var builder = ArgumentArena.Builder()
        for index in 0..<100 { builder.append(function: index.isMultiple(of: 2) ? "even" : "odd", []) }
        let stored = builder.finish()
        #expect(stored.map(\.function) == (0..<100).map { $0.isMultiple(of: 2) ? "even" : "odd" })
        #expect(stored[0].arenaFunctionCount == 2)
    }
}
