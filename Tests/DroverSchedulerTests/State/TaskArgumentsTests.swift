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
        var builder = ArgumentArena.Builder()
        for list in lists { builder.append(list) }
        let stored = builder.finish()
        #expect(stored.count == lists.count)
        for (list, arguments) in zip(lists, stored) {
            #expect(arguments.decoded == list)
        }
        #expect(stored.reduce(0) { $0 + $1.encodedCount } == builder.bytes.count)
    }

    @Test func noArgumentsTakeNoArena() {
        #expect(TaskArguments().decoded == [])
        #expect(TaskArguments().encodedCount == 0)
        var builder = ArgumentArena.Builder()
        builder.append([])
        #expect(builder.finish().map(\.decoded) == [[]])
        #expect(ArgumentArena.Builder().finish().isEmpty)
    }

    /// A no-op's one 8-byte literal takes 16 bytes, where its arrays and boxes took ~110.
    @Test func aSmallLiteralIsCompact() {
        var builder = ArgumentArena.Builder()
        builder.append([.value(Payload(encoding: .raw, data: Data(count: 8), typeName: "Int"))])
        #expect(builder.finish()[0].encodedCount == 16)
    }
}
