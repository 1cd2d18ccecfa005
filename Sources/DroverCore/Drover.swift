import Synchronization

/// Drover's global entry points: configuration, and (in other modules) `bootstrap` and `compute`.
public enum Drover {
    private static let globalConfig = Mutex(Configuration())

    @TaskLocal static var scopedConfig: Configuration?

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
        set {
            globalConfig.withLock { $0 = newValue }
            defaultRemote.withLock { $0 = nil }
        }
    }

    /// Runs `body` with what `configuration` sets merged into the configuration in force, for it
    /// and every task it starts, like `with dask.config.set(...)`: `.scheduler(.processes)` keeps
    /// the `workers` in force, and `.scheduler(.processes, workers: 2)` sets both.
    public static func withConfig<Result>(
        _ configuration: Configuration,
        isolation: isolated (any Actor)? = #isolation,
        _ body: () async throws -> Result
    ) async rethrows -> Result {
        try await $scopedConfig.withValue(config.merging(configuration), operation: body, isolation: isolation)
    }
}

extension Drover {
    /// Settings for computing lazy graphs.
    ///
    /// A configuration remembers which settings were given (the initializer's `scheduler`, a
    /// non-nil `workers`, any assignment), which is what ``Drover/withConfig(_:_:)`` merges.
    public struct Configuration: Sendable, Hashable {
        /// The scheduler `compute()` uses when none is given.
        public var scheduler: Scheduler {
            didSet { assigned.insert(.scheduler) }
        }
        /// The number of workers for a scheduler that does not fix its own; `nil` means one per core.
        public var workers: Int? {
            didSet { assigned.insert(.workers) }
        }
        /// The settings given, for merging; not part of equality.
        private var assigned: Set<Setting>

        private enum Setting: Hashable, Sendable {
            case scheduler, workers
        }

        /// The default: the threads scheduler with one worker per core, as in Dask.
        public init(scheduler: Scheduler = .threads, workers: Int? = nil) {
            self.scheduler = scheduler
            self.workers = workers
            self.assigned = workers == nil ? [.scheduler] : [.scheduler, .workers]
        }

        /// A configuration with `scheduler` set, and `workers` when it is not nil.
        public static func scheduler(_ scheduler: Scheduler, workers: Int? = nil) -> Configuration {
            Configuration(scheduler: scheduler, workers: workers)
        }

        /// This configuration with the settings `other` was given replaced by its values.
        public func merging(_ other: Configuration) -> Configuration {
            var merged = self
            if other.assigned.contains(.scheduler) { merged.scheduler = other.scheduler }
            if other.assigned.contains(.workers) { merged.workers = other.workers }
            return merged
        }

        public static func == (lhs: Configuration, rhs: Configuration) -> Bool {
            lhs.scheduler == rhs.scheduler && lhs.workers == rhs.workers
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(scheduler)
            hasher.combine(workers)
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

/// Computes lazy values somewhere else than this process: a cluster's client.
///
/// Once a client exists, it is the default scheduler of `compute()`, as in Dask; a scheduler named
/// in the call, a ``Drover/withConfig(_:_:)`` scope, or a later assignment to ``Drover/config``
/// takes precedence.
public protocol RemoteScheduler: AnyObject, Sendable {
    /// Computes `roots` (and what they depend on) and returns their values in order.
    func compute(_ roots: [DelayedNode]) async throws -> [ArgumentValue]
}

extension Drover {
    private final class WeakRemote: Sendable {
        // A weak reference, so that a client nobody holds goes away and stops being the default.
        nonisolated(unsafe) weak var scheduler: (any RemoteScheduler)?

        init(_ scheduler: any RemoteScheduler) {
            self.scheduler = scheduler
        }
    }

    private static let defaultRemote = Mutex<WeakRemote?>(nil)

    /// The cluster `compute()` uses when no scheduler is named and no ``withConfig(_:_:)`` scope
    /// is in force: the last client connected, until it closes or ``config`` is assigned.
    public static var defaultCluster: (any RemoteScheduler)? {
        guard scopedConfig == nil else { return nil }
        return defaultRemote.withLock { $0?.scheduler }
    }

    /// Makes `scheduler` the default for `compute()` (clients call this when they connect).
    public static func setDefaultCluster(_ scheduler: any RemoteScheduler) {
        defaultRemote.withLock { $0 = WeakRemote(scheduler) }
    }

    /// Stops `scheduler` being the default, if it still is (clients call this when they close).
    public static func clearDefaultCluster(_ scheduler: any RemoteScheduler) {
        defaultRemote.withLock { remote in
            if remote?.scheduler === scheduler { remote = nil }
        }
    }
}
