import DroverCore
import DroverScheduler
import DroverTestKit
import Testing

/// The worker sets placement and stealing read instead of scanning every worker: the harness
/// checks after each event that they match a scan; these drive them through every transition.
@Suite struct SchedulerStateIndexesTests {
    /// Random joins, leaves, pauses, resumes, retirements, submissions and finishes on up to six
    /// workers of one or two threads; the invariants (indexes included) hold after each event, and
    /// every wanted task ends in memory once the workers are all running again.
    @Test(arguments: Array(1...12) as [UInt64])
    func indexesFollowEveryTransition(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        var harness = Harness()
        let ids: [WorkerID] = (0..<6).map { WorkerID("w\($0)") }
        var submitted = 0
        var wanted: [TaskKey] = []
        for _ in 0..<400 {
            let id = ids.randomElement(using: &random)!
            let present = harness.state.workers[id] != nil
            switch Int.random(in: 0..<10, using: &random) {
            case 0:
                if !present { _ = harness.join(id, threads: Int.random(in: 1...2, using: &random)) }
            case 1:
                if present { _ = harness.handle(.workerLeft(id, cause: "test")) }
            case 2:
                _ = harness.handle(.workerReported(id, memoryBytes: 0, paused: Bool.random(using: &random)))
            case 3:
                if present, Int.random(in: 0..<4, using: &random) == 0 {
                    _ = harness.handle(.workerRetiring(id))
                }
            case 4, 5:
                // A root task, or one on a task submitted earlier (still known or not).
                let key = TaskKey("t\(submitted)")
                let inputs =
                    submitted > 0 && Bool.random(using: &random) ? [TaskKey("t\(submitted - 1)")] : []
                submitted += 1
                let known = inputs.filter { harness.state.tasks[$0] != nil }
                _ = harness.submit([known.first.map { task(key, $0) } ?? task(key)], wants: [key])
                wanted.append(key)
            default:
                // Each worker finishes what it was given, in order.
                guard harness.state.workers[id] != nil else { continue }
                for key in harness.state.processing(on: id).sorted() {
                    _ = harness.handle(.taskFinished(key, worker: id, nbytes: 8, duration: 0.001))
                }
            }
        }
        // Everyone back: the cluster finishes everything still wanted.
        for id in ids {
            if harness.state.workers[id] == nil { _ = harness.join(id) }
            _ = harness.handle(.workerReported(id, memoryBytes: 0, paused: false))
        }
        for _ in 0..<10_000 {
            let busy = harness.state.workers.values.filter { $0.processingCount > 0 }
            guard let worker = busy.min(by: { $0.id < $1.id }) else { break }
            for key in harness.state.processing(on: worker.id).sorted() {
                _ = harness.handle(.taskFinished(key, worker: worker.id, nbytes: 8, duration: 0.001))
            }
            _ = harness.handle(.balanceTimerFired)
        }
        for key in wanted {
            let state = harness.state(of: key)
            #expect(state == .memory || state == .erred, "'\(key)' ended \(String(describing: state))")
        }
    }

    @Test func aTaskWithInputsGoesToAHolderOrAnIdleWorkerNotToABusyStranger() {
        var harness = Harness()
        for id in ["w1", "w2", "w3"] as [WorkerID] { _ = harness.join(id) }
        _ = harness.submit([task("a"), task("b"), task("c")], wants: ["a", "b", "c"])
        let placed = Dictionary(
            uniqueKeysWithValues: ["a", "b", "c"].map { ($0, harness.state.processingOn($0)!) })
        // "a" finishes; the others keep their workers busy.
        _ = harness.handle(.taskFinished("a", worker: placed["a"]!, nbytes: 1 << 30, duration: 0.001))
        let actions = harness.submit([task("d", "a")], wants: ["d"])
        #expect(computes(actions).map(\.0) == [placed["a"]!])
    }

    @Test func rootTasksQueueOnceEveryWorkerIsSaturatedAndFlowAsSlotsFree() {
        var harness = Harness()
        _ = harness.join("w1")
        _ = harness.join("w2")
        let keys = (0..<10).map { TaskKey("r\($0)") }
        let actions = harness.submit(keys.map { task($0) }, wants: keys)
        // Unknown durations count as 0.5 s: two tasks each (saturation 1.1 of one thread, rounded up).
        #expect(computes(actions).count == 4)
        #expect(keys.filter { harness.state(of: $0) == .queued }.count == 6)
        let first = harness.state.processing(on: "w1").sorted()[0]
        let next = harness.handle(.taskFinished(first, worker: "w1", nbytes: 8, duration: 0.5))
        #expect(computes(next).map(\.0) == ["w1"])
    }
}
