public import NIOCore

/// Runs tasks on one NIO event loop (`withTaskExecutorPreference`): a task that reads a wire
/// stream whose channel lives on that loop then wakes without a thread hand-off, and an actor
/// whose executor is the same loop (the scheduler's ``EventLoopTaskExecutor/loop``) can be
/// entered synchronously from it (`assumeIsolated`).
///
/// Work run this way blocks the loop's I/O while it runs, as any handler on the loop would.
public final class EventLoopTaskExecutor: TaskExecutor {
    /// The loop every job runs on.
    public let loop: any EventLoop

    public init(_ loop: any EventLoop) {
        self.loop = loop
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        loop.execute { job.runSynchronously(on: executor) }
    }
}
