import Synchronization

/// Drover's global entry points: configuration, and (in other modules) `bootstrap` and `compute`.
public enum Drover {
    private static let globalConfig = Mutex(Configuration())

    @TaskLocal private static var scopedConfig: Configuration?

    /// The configuration in force: the innermost ``withConfig(_:_:)`` scope's, else the global one.
    ///
    /// Assigning changes the global configuration, like `dask.config.set(scheduler=...)`:
    ///
    /// ```swift
    /// Drover.config.scheduler = .threads
    /// Drover.config.workers = 4
    /// ```
    public static var config: Configuration {
        get { scopedConfig ?? globalConfig.withLock { $0 } }
        set { globalConfig.withLock { $0 = newValue } }
    }

    /// Runs `body` with `configuration` in force for it and every task it starts, like
    /// `with dask.config.set(...)`.
    public static func withConfig<Result>(
        _ configuration: Configuration,
        isolation: isolated (any Actor)? = #isolation,
        _ body: () async throws -> Result
    ) async rethrows -> Result {
        try await $scopedConfig.withValue(configuration, operation: body, isolation: isolation)
    }
}

extension Drover {
    /// Settings for computing lazy graphs.
    public struct Configuration: Sendable, Hashable {
        /// The scheduler `compute()` uses when none is given.
        public var scheduler: Scheduler
        /// The number of workers for a scheduler that does not fix its own; `nil` means one per core.
        public var workers: Int?

        /// The default: the threads scheduler with one worker per core, as in Dask.
        public init(scheduler: Scheduler = .threads, workers: Int? = nil) {
            self.scheduler = scheduler
            self.workers = workers
        }

        /// A configuration with `scheduler` and `workers` set.
        public static func scheduler(_ scheduler: Scheduler, workers: Int? = nil) -> Configuration {
            Configuration(scheduler: scheduler, workers: workers)
        }
    }
}

/// Which scheduler computes a graph, and with how many workers.
public struct Scheduler: Sendable, Hashable, CustomStringConvertible {
    /// The kinds of scheduler.
    public enum Kind: Sendable, Hashable {
        /// Every task in one thread, one after another: for debugging and profiling.
        case singleThreaded
        /// A pool of threads in this process.
        case threads
        /// A pool of child processes running this program's task functions.
        case processes
    }

    public var kind: Kind
    /// The worker count; `nil` takes ``Drover/Configuration/workers`` or one per core.
    public var workers: Int?
    /// For ``Kind/processes``: the program to start as workers; `nil` means this program.
    public var executable: String?

    public init(kind: Kind, workers: Int? = nil, executable: String? = nil) {
        self.kind = kind
        self.workers = workers
        self.executable = executable
    }

    /// Runs every task in one thread.
    public static let singleThreaded = Scheduler(kind: .singleThreaded)
    /// A thread pool with the configured number of workers (default: one per core).
    public static let threads = Scheduler(kind: .threads)
    /// A process pool with the configured number of workers (default: one per core).
    public static let processes = Scheduler(kind: .processes)

    /// A thread pool of `workers` threads.
    public static func threads(workers: Int) -> Scheduler {
        Scheduler(kind: .threads, workers: workers)
    }

    /// A pool of `workers` child processes.
    ///
    /// - Parameters:
    ///   - workers: How many processes run tasks at once.
    ///   - executable: The program to start; by default this one. It must call
    ///     `Drover.bootstrap(_:)` first thing in `main` and register the graph's functions.
    public static func processes(workers: Int, executable: String? = nil) -> Scheduler {
        Scheduler(kind: .processes, workers: workers, executable: executable)
    }

    public var description: String {
        switch kind {
        case .singleThreaded: "single-threaded"
        case .threads: "threads"
        case .processes: "processes"
        }
    }
}
