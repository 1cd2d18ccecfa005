import DroverCore
import Testing

@testable import DroverScheduler

@Suite struct TaskRecordLayoutTests {
    /// What one held task costs inline, field by field: the scheduler keeps one record per task
    /// (a million for a map of a million), so a field that grows shows here first.
    @Test func recordLayout() {
        print(
            "TaskRecord \(MemoryLayout<TaskRecord>.size) B (stride \(MemoryLayout<TaskRecord?>.stride)); "
                + "TaskSpec \(MemoryLayout<TaskSpec>.size), TaskPriority \(MemoryLayout<TaskPriority>.size), "
                + "InlineSet \(MemoryLayout<InlineSet>.size), TaskArguments \(MemoryLayout<TaskArguments>.size), "
                + "TaskKey \(MemoryLayout<TaskKey>.size)")
        #expect(MemoryLayout<TaskRecord?>.stride <= 96)
    }
}
