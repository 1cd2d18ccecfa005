import DroverSystemd
import Logging
import Testing

@Suite struct JournalFieldTests {
    @Test(arguments: [
        ("task.key", "TASK_KEY"), ("worker.id", "WORKER_ID"), ("peer.address", "PEER_ADDRESS"),
        ("memory.peak_bytes", "MEMORY_PEAK_BYTES"), ("stimulus-id", "STIMULUS_ID"), ("_private", "PRIVATE"),
        ("9lives", "LIVES"), ("_1_2x", "X"), ("café", "CAF_"), ("Worker.ID", "WORKER_ID"),
    ])
    func metadataKeyBecomesFieldName(key: String, expected: String) {
        #expect(JournalField.name(forMetadataKey: key) == expected)
    }

    @Test(arguments: ["", "_", "__", "123", "_42_"])
    func keyWithNothingUsableHasNoField(key: String) {
        #expect(JournalField.name(forMetadataKey: key) == nil)
    }

    @Test func longKeysAreCutAt64Characters() {
        let name = JournalField.name(forMetadataKey: "1" + String(repeating: "a.", count: 50))
        #expect(name == String(String(repeating: "A_", count: 32)))
        #expect(name?.count == 64)
    }

    @Test(arguments: [
        (Logger.Level.critical, 2), (.error, 3), (.warning, 4), (.notice, 5), (.info, 6), (.debug, 7), (.trace, 7),
    ])
    func levelBecomesSyslogPriority(level: Logger.Level, priority: Int) {
        #expect(JournalField.priority(for: level) == priority)
    }
}
