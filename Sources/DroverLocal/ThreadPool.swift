import CDroverSupport
import Foundation

/// A fixed set of threads of Drover's own, usable as a Swift `TaskExecutor`.
///
/// Task bodies run here, so a body that blocks (`sleep`, a blocking read, a long loop) ties up one
/// of these threads and never one of Swift's cooperative pool. Threads are named `"<name>-<n>"`
/// (Linux keeps 15 bytes of a thread name, so keep `name` short). Call ``shutdown()`` when done: threads finish their current job and exit.
public final class ThreadPool: TaskExecutor, @unchecked Sendable {
    // @unchecked: all mutable state (`jobs`, `isShutDown`) is guarded by `condition`.
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var head = 0
    private var isShutDown = false
    /// The number of threads.
    public let threadCount: Int

    /// Starts `threads` threads named `"<name>-1"`, `"<name>-2"`, ….
    public init(threads: Int, name: String) {
        precondition(threads > 0, "A thread pool needs at least one thread.")
        self.threadCount = threads
        for number in 1...threads {
            let threadName = "\(name)-\(number)"
            let thread = Thread { [self] in
                _ = drover_set_current_thread_name(threadName)
                self.runLoop()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let unownedJob = UnownedJob(job)
        condition.lock()
        jobs.append(unownedJob)
        condition.signal()
        condition.unlock()
    }

    /// Lets every thread exit once the queue is empty.
    public func shutdown() {
        condition.lock()
        isShutDown = true
        condition.broadcast()
        condition.unlock()
    }

    private func runLoop() {
        let executor = asUnownedTaskExecutor()
        while let job = next() {
            job.runSynchronously(on: executor)
        }
    }

    private func next() -> UnownedJob? {
        condition.lock()
        defer { condition.unlock() }
        while head == jobs.count {
            if isShutDown { return nil }
            condition.wait()
        }
        let job = jobs[head]
        head += 1
        if head > 1024 && head * 2 > jobs.count {
            jobs.removeFirst(head)
            head = 0
        }
        return job
    }
}
