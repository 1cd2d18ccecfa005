import DroverCore
import Foundation
import Testing

let inc = TaskFunction("inc") { (x: Int) in x + 1 }
let add = TaskFunction("add") { (x: Int, y: Int) in x + y }
let total = TaskFunction("sum") { (xs: [Int]) in xs.reduce(0, +) }

@Suite struct TaskKeyTests {
    /// A table that keeps keys as bytes (the scheduler's key arena) hashes them to the `hashValue`
    /// of their `TaskKey`: a look-up by key and a removal by slot must reach the same bucket.
    @Test(arguments: ["", "a", "noop-0123456789abcdef0123456789abcdef", "ключ-🙂", String(repeating: "x", count: 300)])
    func theHashOfAKeysBytesIsItsHashValue(text: String) {
        let ofBytes = Array(text.utf8).withUnsafeBufferPointer { TaskKey.hashValue(ofUTF8: $0) }
        #expect(ofBytes == TaskKey(text).hashValue)
    }

    @Test func equalKeysHashEquallyUnderEverySeedAndTablesFindThem() {
        let keys = (0..<50_000).map { TaskKey("noop-\($0)") }
        for seed in [0, 1, -1, 0x5EED] {
            #expect(keys[7]._rawHashValue(seed: seed) == TaskKey("noop-7")._rawHashValue(seed: seed))
        }
        #expect(keys[7]._rawHashValue(seed: 0) != keys[7]._rawHashValue(seed: 1))
        let table = Dictionary(uniqueKeysWithValues: keys.enumerated().map { ($1, $0) })
        #expect(keys.allSatisfy { table[TaskKey($0.rawValue)] != nil })
        #expect(table[TaskKey("noop-50000")] == nil)
        // Spread: keys that differ in one character fill a table's low bits evenly (a hash that
        // left the low bits alone would pile them into a few buckets).
        var buckets = [Int](repeating: 0, count: 1024)
        for key in keys { buckets[key._rawHashValue(seed: 0) & 1023] += 1 }
        #expect(buckets.max()! < 3 * keys.count / buckets.count)
    }

    @Test func keysReadNameDashToken() {
        let key = inc.delayed(1).key.rawValue
        #expect(key.hasPrefix("inc-"))
        let token = key.dropFirst(4)
        #expect(token.count == 32)
        #expect(token.allSatisfy { $0.isHexDigit && !$0.isUppercase })
    }

    @Test func theSameCallHasTheSameKey() {
        #expect(inc.delayed(1).key == inc.delayed(1).key)
        #expect(add.delayed(inc.delayed(1), 2).key == add.delayed(inc.delayed(1), 2).key)
        #expect(total.delayed([1, 2, 3]).key == total.delayed([1, 2, 3]).key)
    }

    @Test func differentCallsHaveDifferentKeys() {
        let keys: [TaskKey] = [
            inc.delayed(1).key, inc.delayed(2).key, add.delayed(1, 2).key, add.delayed(2, 1).key,
            add.delayed(inc.delayed(1), 2).key, add.delayed(inc.delayed(2), 2).key,
            total.delayed([1, 2]).key, total.delayed([1, 2, 0]).key, total.delayed([inc.delayed(1)]).key,
        ]
        #expect(Set(keys).count == keys.count)
    }

    @Test func sameFunctionNameOtherTypeDiffers() {
        let other = TaskFunction("inc") { (x: Double) in x + 1 }
        #expect(other.delayed(1.0).key != inc.delayed(1).key)
    }

    @Test func impureCallsGetFreshKeys() {
        #expect(inc.delayed(1, pure: false).key != inc.delayed(1, pure: false).key)
        #expect(inc.delayed(1, pure: false).key.rawValue.hasPrefix("inc-"))
    }

    @Test func uniqueTokensNeverRepeatAcrossThreads() async {
        let perTask = 20_000
        let tokens = await withTaskGroup(of: [String].self) { group in
            for _ in 0..<4 { group.addTask { (0..<perTask).map { _ in Token.unique() } } }
            return await group.reduce(into: [String]()) { $0 += $1 }
        }
        #expect(tokens.count == 4 * perTask)
        #expect(Set(tokens).count == tokens.count)
        #expect(tokens.allSatisfy { $0.count == 32 && $0.allSatisfy(\.isHexDigit) })
    }

    @Test func explicitKeysAreKept() {
        #expect(inc.delayed(1, key: "my-key").key == "my-key")
    }

    @Test func tokensAreStableAcrossRuns() {
        // Keys must agree between processes and releases: a change to the hash is a protocol change.
        #expect(
            Token.of(function: "inc", arguments: [.value(Payload(encoding: .raw, data: .init(), typeName: ""))])
                == "fcc965df364052c297a778098385297a")
    }
}
