import DroverCore
import DroverLocal
import Foundation
import Testing

@Suite struct ConfigurationSchedulingTests {
    @Test func computeUsesTheScopedScheduler() async throws {
        let profiler = TaskProfiler()
        let value = try await Drover.withConfig(.scheduler(.singleThreaded)) {
            try await tutorialGraphFast().compute(profiler: profiler)
        }
        #expect(value == 36)
        #expect(profiler.records.allSatisfy { $0.thread?.hasPrefix("drover-single-") == true })
    }

    @Test func configuredWorkersApplyToThreads() async throws {
        let configuration = Drover.Configuration.scheduler(.threads, workers: 3)
        #expect(LocalScheduler.resolvedWorkers(.threads, configuration: configuration) == 3)
        #expect(LocalScheduler.resolvedWorkers(.threads(workers: 5), configuration: configuration) == 5)
        #expect(LocalScheduler.resolvedWorkers(.singleThreaded, configuration: configuration) == 1)
        let profiler = TaskProfiler()
        _ = try await Drover.withConfig(configuration) {
            try await tutorialGraphFast().compute(profiler: profiler)
        }
        let threads = Set(profiler.records.compactMap(\.thread))
        #expect(threads.count <= 3)
        #expect(threads.allSatisfy { $0.hasPrefix("drover-thread-") })
    }

    @Test func theDefaultIsThreadsWithOneWorkerPerCore() {
        #expect(
            LocalScheduler.resolvedWorkers(.threads, configuration: .init())
                == ProcessInfo.processInfo.activeProcessorCount)
    }
}
