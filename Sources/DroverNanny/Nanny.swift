import DroverCore
import DroverLocal
public import DroverProto
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
public import Logging
import SwiftProtobuf
import Synchronization

/// A host's supervisor: starts `workers` worker processes, holds each in a cgroup with its memory
/// limit, restarts them when they die (``RestartPolicy``), and tells the scheduler why each died.
///
/// Without a writable cgroup tree it polls each worker's RSS every 100 ms instead and kills it at
/// 95 % of its limit, and says so once. ``shutdown()`` (SIGTERM) lets the workers retire — the
/// scheduler moves the results only they hold to other workers — and kills what is left after
/// ``Options/drainTimeout``.
public actor Nanny {
    public struct Options: Sendable {
        public var scheduler: HostAndPort
        public var workers: Int
        public var threads: Int
        /// Each worker's memory limit in bytes; nil for none.
        public var memoryLimit: Int64?
        /// The address workers and the nanny serve on.
        public var host: String
        /// The first worker's port (the next ones count up from it); 0 for any free port.
        public var workerPort: Int
        /// The nanny's own port (its `Status` service); 0 for any free port.
        public var nannyPort: Int
        /// Where workers spill results; nil for the system's temporary directory.
        public var localDirectory: String?
        /// Worker names are `<name>-<index>`, the same across restarts.
        public var name: String
        /// The `drover` binary the workers run.
        public var executable: String
        public var logLevel: String
        /// How long retiring workers get before they are killed.
        public var drainTimeout: Duration
        /// Keep one worker process started ahead of need, so a replacement costs no process start.
        public var standby: Bool
        /// TLS for the nanny's server and its scheduler connection; its workers get the worker
        /// certificate beside the nanny's (``Security/forRole(_:)``), or the nanny's own.
        public var security: Security

        public init(
            scheduler: HostAndPort, workers: Int, threads: Int, memoryLimit: Int64?, host: String = "127.0.0.1",
            workerPort: Int = 0, nannyPort: Int = 0, localDirectory: String? = nil, name: String,
            executable: String, logLevel: String = "info", drainTimeout: Duration = .seconds(10),
            standby: Bool = true, security: Security = .insecurePlaintext
        ) {
            self.standby = standby
            self.security = security
            self.scheduler = scheduler
            self.workers = workers
            self.threads = threads
            self.memoryLimit = memoryLimit
            self.host = host
            self.workerPort = workerPort
            self.nannyPort = nannyPort
            self.localDirectory = localDirectory
            self.name = name
            self.executable = executable
            self.logLevel = logLevel
            self.drainTimeout = drainTimeout
        }
    }

    /// One supervised worker: the current process, if any, and its history.
    struct Slot: Sendable {
        var name: String
        var pid: pid_t = 0
        var address = ""
        var cgroup: WorkerCgroup?
        /// The spill directory named for the current process (removed once it has exited).
        var spill: String?
        var restarts = 0
        var lastCause = ""
        var lastPeak: Int64 = 0
        /// Why this nanny killed the current process itself (the scheduler removed it as hung).
        var killedBecause: String?
    }

    let options: Options
    let logger: Logger
    private let controller: CgroupController?
    /// How memory limits are enforced, for the log and `Status`.
    let enforcement: String
    private var slots: [Slot]
    private var address = ""
    private var isStopping = false
    /// A worker process started ahead of need (``prepareStandby()``), and how many were made.
    private var standby: Launched?
    private var standbys = 0
    private var stopRequests: [CheckedContinuation<Void, Never>] = []

    public init(options: Options, logger: Logger) {
        self.options = options
        self.logger = logger
        self.slots = (0..<options.workers).map { Slot(name: "\(options.name)-\($0)") }
        guard let limit = options.memoryLimit else {
            controller = nil
            enforcement = "none (no memory limit)"
            return
        }
        do {
            let found = try CgroupController.find()
            controller = found
            enforcement = "cgroup \(found.version) under \(found.directory), \(MemorySize.format(limit)) per worker"
        } catch {
            controller = nil
            enforcement = "polling RSS every 100 ms, kill at 95% of \(MemorySize.format(limit)) (\(error.message))"
        }
    }

    /// Supervises the workers until ``shutdown()``; calls `onListening` with the nanny's address
    /// once every worker has started.
    public func run(onListening: @escaping @Sendable (String) -> Void) async throws {
        signal(SIGPIPE, SIG_IGN)  // a standby that died must not end the nanny when it is written to
        if controller == nil, options.memoryLimit != nil {
            logger.warning(
                "no cgroup for worker memory limits; falling back", metadata: ["enforcement": "\(enforcement)"])
        } else {
            logger.info("nanny starting", metadata: ["enforcement": "\(enforcement)"])
        }
        removeStaleCgroups()
        removeStaleSpillDirectories()
        let server = GRPCServer(
            transport: Transports.makeServer(host: options.host, port: options.nannyPort, security: options.security),
            services: [NannyRPCService(nanny: self)],
            interceptors: Transports.interceptors(security: options.security, logger: logger)
        )
        try await withGRPCClient(
            transport: try Transports.makeClient(to: options.scheduler, security: options.security)
        ) { client in
            let scheduler = Drover_V1_Scheduler.Client(wrapping: client)
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { try await server.serve() }
                guard let bound = try await server.listeningAddress?.ipv4 else {
                    throw RPCError(code: .unavailable, message: "The nanny's server did not bind an IPv4 address.")
                }
                address = "\(options.host):\(bound.port)"
                // Workers start side by side; the nanny is ready once each has started (or failed to).
                let started = Started(count: options.workers)
                for index in slots.indices {
                    group.addTask { await self.supervise(index, scheduler: scheduler, started: started) }
                }
                await started.wait()
                onListening(address)
                // The standby loads once the workers have (on few cores, loading competes).
                group.addTask {
                    try? await Task.sleep(for: .milliseconds(250))
                    await self.prepareStandby()
                }
                logger.info("nanny listening", metadata: ["address": "\(address)", "workers": "\(options.workers)"])
                await stopRequested()
                await drain()
                server.beginGracefulShutdown()
            }
        }
    }

    /// Stops the nanny: its workers retire, then it exits.
    public func shutdown() {
        guard !isStopping else { return }
        isStopping = true
        logger.info("nanny stopping: workers retire", metadata: ["workers": "\(slots.filter { $0.pid > 0 }.count)"])
        for continuation in stopRequests { continuation.resume() }
        stopRequests = []
    }

    private func stopRequested() async {
        guard !isStopping else { return }
        await withCheckedContinuation { stopRequests.append($0) }
    }

    /// SIGTERM to every worker (they retire), SIGKILL to those still there after the timeout.
    private func drain() async {
        await discardStandby()
        for slot in slots where slot.pid > 0 { kill(slot.pid, SIGTERM) }
        let deadline = ContinuousClock.now + options.drainTimeout
        while slots.contains(where: { $0.pid > 0 }), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        for slot in slots where slot.pid > 0 {
            logger.warning("worker did not retire in time; killing it", metadata: ["worker.name": "\(slot.name)"])
            kill(slot.pid, SIGKILL)
        }
        while slots.contains(where: { $0.pid > 0 }) { try? await Task.sleep(for: .milliseconds(10)) }
    }

    /// Removes the worker cgroups of nannies that died without cleaning up (`drover-<pid>-<n>`
    /// whose nanny pid is gone), killing what is left in them.
    private func removeStaleCgroups() {
        guard let controller else { return }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: controller.directory)) ?? []
        for name in names where name.hasPrefix("drover-") {
            let parts = name.split(separator: "-")
            guard parts.count == 3, let owner = pid_t(parts[1]), owner != getpid(),
                kill(owner, 0) == -1, errno == ESRCH
            else { continue }
            let stale = WorkerCgroup(version: controller.version, path: controller.directory + "/" + name)
            do {
                try stale.remove()
                logger.info("removed the cgroup of a nanny that died", metadata: ["cgroup": "\(stale.path)"])
            } catch {
                logger.warning(
                    "could not remove a stale cgroup", metadata: ["cgroup": "\(stale.path)", "error": "\(error)"])
            }
        }
    }

    // MARK: - One worker's life, over and over

    private func supervise(
        _ index: Int, scheduler: Drover_V1_Scheduler.Client<HTTP2ClientTransport.Posix>, started: Started
    ) async {
        var policy = RestartPolicy()
        var first = true
        while !isStopping {
            let start = ContinuousClock.now
            let outcome = await startWorker(index)
            if first {
                first = false
                await started.one()
            }
            let cause: String
            var givesUp = false
            var report = Drover_V1_WorkerExitReport()
            switch outcome {
            case .failure(let error as Spawn.Failure) where error.ranMainAgain:
                // Every restart would run the program's main again: say so once, and stop.
                logger.error(
                    "worker cannot start: the program does not serve the worker role",
                    metadata: ["worker.name": "\(slots[index].name)", "error": "\(error)"])
                cause = "it failed to start: \(error)"
                givesUp = true
            case .failure(let error):
                cause = "it failed to start: \(error)"
            case .success(let pid):
                let exit = await waitForExit(index, pid: pid)
                if let reason = slots[index].killedBecause {
                    cause = "\(exit.description), by its nanny: the scheduler removed it (\(reason))"
                } else {
                    cause = exit.description
                }
                slots[index].killedBecause = nil
                if case .oomKilled(_, let peak) = exit {
                    report.oomKilled = true
                    report.peakBytes = peak ?? 0
                } else if let peak = (try? slots[index].cgroup?.peakBytes()) ?? nil {
                    report.peakBytes = peak
                }
                if case .exited(let code) = exit { report.exitCode = code }
                if case .signaled(let signal) = exit { report.signal = signal }
            }
            let slot = slots[index]
            removeCgroup(slot.cgroup)
            removeSpillDirectory(slot.spill, of: slot.name)
            slots[index].cgroup = nil
            slots[index].spill = nil
            slots[index].pid = 0
            if givesUp {
                slots[index].lastCause = cause
                return
            }
            if isStopping {
                logger.info("worker stopped", metadata: ["worker.name": "\(slot.name)", "cause": "\(cause)"])
                break
            }
            slots[index].restarts += 1
            slots[index].lastCause = cause
            slots[index].lastPeak = report.peakBytes
            let delay = policy.workerDied(after: ContinuousClock.now - start)
            logger.warning(
                "worker died",
                metadata: [
                    "worker.name": "\(slot.name)", "peer.address": "\(slot.address)", "cause": "\(cause)",
                    "worker.restarts": "\(slots[index].restarts)", "restart.delay": "\(delay)",
                    "memory.peak_bytes": "\(report.peakBytes)",
                ])
            if policy.consecutiveFailures > 3 {
                logger.error(
                    "worker is flapping",
                    metadata: ["worker.name": "\(slot.name)", "failures": "\(policy.consecutiveFailures)"])
            }
            report.workerID = slot.name
            report.address = slot.address
            report.nanny = address
            report.cause = cause
            report.memoryLimit = options.memoryLimit ?? 0
            report.restarts = Int32(slots[index].restarts)
            await tell(scheduler, report)
            if delay > .zero { try? await Task.sleep(for: delay) }
        }
    }

    /// Tells the scheduler why a worker died, before its replacement starts, so the two never cross.
    private func tell(
        _ scheduler: Drover_V1_Scheduler.Client<HTTP2ClientTransport.Posix>, _ report: Drover_V1_WorkerExitReport
    )
        async
    {
        var callOptions = CallOptions.defaults
        callOptions.timeout = .seconds(1)
        do {
            _ = try await scheduler.reportWorkerExit(report, options: callOptions)
        } catch {
            logger.warning("could not tell the scheduler a worker died", metadata: ["error": "\(error)"])
        }
    }

    /// Starts worker `index` — the standby if one is ready, else a new process — in a cgroup of
    /// its own; returns its pid once it listens.
    private func startWorker(_ index: Int) async -> Result<pid_t, any Error> {
        let name = slots[index].name
        let port = options.workerPort == 0 ? 0 : options.workerPort + index
        if let ready = standby {
            standby = nil
            let sent = ready.process.send("\(name) \(port)\n")
            ready.process.closeInput()
            do {
                guard sent else { throw Spawn.Failure(description: "the standby worker did not take its name") }
                let workerAddress = try await ready.process.listeningAddress()
                slots[index].cgroup = ready.cgroup
                slots[index].spill = ready.spill
                Task { await self.prepareStandby() }
                return record(index, pid: ready.process.pid, address: workerAddress)
            } catch {
                logger.warning("standby worker failed; starting a new one", metadata: ["error": "\(error)"])
                removeCgroup(ready.cgroup)
                removeSpillDirectory(ready.spill, of: "standby")
            }
        }
        do {
            let launched = try launch(
                cgroupName: "drover-\(getpid())-\(index)", extra: ["--name", name, "--port", String(port)])
            slots[index].cgroup = launched.cgroup
            slots[index].spill = launched.spill
            return record(index, pid: launched.process.pid, address: try await launched.process.listeningAddress())
        } catch {
            return .failure(error)
        }
    }

    private func record(_ index: Int, pid: pid_t, address workerAddress: String) -> Result<pid_t, any Error> {
        slots[index].pid = pid
        slots[index].address = workerAddress
        if isStopping { kill(pid, SIGTERM) }  // stopped while it started
        return .success(pid)
    }

    /// A worker process this nanny started, its cgroup and the spill directory named for it.
    private struct Launched {
        var process: ListeningProcess
        var cgroup: WorkerCgroup?
        var spill: String
    }

    /// Starts a worker process in a new cgroup with the nanny's arguments and `extra`.
    private func launch(cgroupName: String, extra: [String], withInput: Bool = false) throws -> Launched {
        var environment = ProcessInfo.processInfo.environment
        environment[Drover.exitWithParentVariable] = Drover.exitWithParentValue
        environment[Drover.cgroupProcsVariable] = nil
        let spill = SpillDirectories.path(parent: Drover.spillParent(localDirectory: options.localDirectory))
        environment[Drover.spillDirectoryVariable] = spill
        var cgroup: WorkerCgroup?
        if let controller, let limit = options.memoryLimit {
            cgroup = try controller.create(name: cgroupName, limit: limit)
            environment[Drover.cgroupProcsVariable] = cgroup!.procsFile
        }
        var arguments = [
            "worker", options.scheduler.description, "--nthreads", String(options.threads), "--host", options.host,
            "--nanny", address, "--log-level", options.logLevel,
        ]
        if let limit = options.memoryLimit { arguments += ["--memory-limit", String(limit)] }
        if let directory = options.localDirectory { arguments += ["--local-directory", directory] }
        arguments += options.security.forRole(.worker).arguments
        do {
            let process = try ListeningProcess.launch(
                options.executable, arguments: arguments + extra, environment: environment, withInput: withInput)
            return Launched(process: process, cgroup: cgroup, spill: spill)
        } catch {
            removeCgroup(cgroup)
            throw error
        }
    }

    /// Starts a worker process that loads, joins its cgroup and waits for its name, so that a
    /// replacement costs no process start (about 20 ms of dynamic loading here).
    private func prepareStandby() async {
        guard options.standby, standby == nil, !isStopping else { return }
        standbys += 1
        do {
            let ready = try launch(
                cgroupName: "drover-\(getpid())-s\(standbys)", extra: ["--standby"], withInput: true)
            standby = ready
            if isStopping { await discardStandby() }
        } catch {
            logger.warning("could not start a standby worker", metadata: ["error": "\(error)"])
        }
    }

    /// Ends the standby worker: it reads end of file instead of a name and exits.
    private func discardStandby() async {
        guard let ready = standby else { return }
        standby = nil
        ready.process.closeInput()
        _ = try? await ready.process.listeningAddress()  // reaps it
        removeCgroup(ready.cgroup)
        removeSpillDirectory(ready.spill, of: "standby")
    }

    /// Removes the spill directory of a worker that has exited: one that retired removed it
    /// itself; one that was killed (an OOM kill above all, which comes when memory is full and
    /// much of it was spilled) left its files behind.
    private func removeSpillDirectory(_ path: String?, of worker: String) {
        guard let path, let files = SpillDirectories.remove(path) else { return }
        logger.info(
            "removed the spill directory of a worker that died",
            metadata: ["worker.name": "\(worker)", "path": "\(path)", "files": "\(files)"])
    }

    /// Removes the spill directories of workers whose nanny died without cleaning up (its
    /// workers died with it).
    private func removeStaleSpillDirectories() {
        let parent = Drover.spillParent(localDirectory: options.localDirectory)
        for path in SpillDirectories.stale(in: parent) {
            if let files = SpillDirectories.remove(path) {
                logger.info(
                    "removed the spill directory of a nanny that died",
                    metadata: ["path": "\(path)", "files": "\(files)"])
            }
        }
    }

    private func removeCgroup(_ cgroup: WorkerCgroup?) {
        guard let cgroup else { return }
        do {
            try cgroup.remove()
        } catch {
            logger.warning("could not remove a worker cgroup", metadata: ["error": "\(error)"])
        }
    }

    /// Waits for the worker to end and says why: the cgroup's OOM-kill counter tells an OOM kill
    /// from another SIGKILL. Without a cgroup, polls RSS and kills at 95 % of the limit.
    private func waitForExit(_ index: Int, pid: pid_t) async -> ExitCause {
        let cgroup = slots[index].cgroup
        let oomBefore = (try? cgroup?.oomKillCount()) ?? 0
        let exited = Atomic<Bool>(false)
        let killedAt = Atomic<Int64>(0)
        if cgroup == nil, let limit = options.memoryLimit {
            let threshold = Int64(Double(limit) * ExitCause.terminateFraction)
            Thread.detachNewThread {
                while !exited.load(ordering: .acquiring) {
                    if let rss = ProcessMemory.residentBytes(of: pid), rss > threshold {
                        killedAt.store(rss, ordering: .releasing)
                        if !exited.load(ordering: .acquiring) { kill(pid, SIGKILL) }
                        return
                    }
                    usleep(100_000)
                }
            }
        }
        let status: Int32 = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                let status = Spawn.wait(pid)
                exited.store(true, ordering: .releasing)
                continuation.resume(returning: status)
            }
        }
        let limit = options.memoryLimit ?? 0
        let rss = killedAt.load(ordering: .acquiring)
        if rss > 0 { return .terminatedByNanny(rss: rss, limit: limit) }
        return ExitCause.classify(
            status: status, oomKillsBefore: oomBefore, oomKillsAfter: (try? cgroup?.oomKillCount()) ?? oomBefore,
            limit: limit, peak: (try? cgroup?.peakBytes()) ?? nil)
    }

    // MARK: - Status

    /// Kills the worker `id` if it is still the process serving at `workerAddress`: the scheduler
    /// removed it for silence, and a hung process must not sit in its cgroup forever. It is then
    /// restarted like after any death.
    ///
    /// - Returns: Whether a process was killed.
    func killWorker(_ id: String, address workerAddress: String, reason: String) -> Bool {
        guard let index = slots.firstIndex(where: { $0.name == id && $0.address == workerAddress && $0.pid > 0 })
        else { return false }
        logger.warning(
            "killing a worker the scheduler removed",
            metadata: ["worker.name": "\(id)", "pid": "\(slots[index].pid)", "cause": "\(reason)"])
        slots[index].killedBecause = reason
        kill(slots[index].pid, SIGKILL)
        return true
    }

    func status() -> Drover_V1_NannyStatus {
        .with { status in
            status.scheduler = options.scheduler.description
            status.memoryEnforcement = enforcement
            status.workers = slots.map { slot in
                .with {
                    $0.name = slot.name
                    $0.pid = slot.pid
                    $0.address = slot.address
                    $0.memoryLimit = options.memoryLimit ?? 0
                    $0.restarts = Int32(slot.restarts)
                    $0.lastCause = slot.lastCause
                    $0.cgroup = slot.cgroup?.path ?? ""
                    $0.lastPeakBytes = slot.lastPeak
                }
            }
        }
    }
}

/// Counts workers started, for the nanny's `LISTENING` line.
private actor Started {
    private var remaining: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(count: Int) { remaining = count }

    func one() {
        remaining -= 1
        if remaining <= 0 {
            for waiter in waiters { waiter.resume() }
            waiters = []
        }
    }

    func wait() async {
        guard remaining > 0 else { return }
        await withCheckedContinuation { waiters.append($0) }
    }
}

/// The nanny's gRPC face.
struct NannyRPCService: Drover_V1_Nanny.SimpleServiceProtocol {
    let nanny: Nanny

    func status(request: Drover_V1_NannyStatusRequest, context: ServerContext) async throws -> Drover_V1_NannyStatus {
        await nanny.status()
    }

    func killWorker(request: Drover_V1_KillWorkerRequest, context: ServerContext) async throws
        -> Drover_V1_KillWorkerResponse
    {
        let killed = await nanny.killWorker(request.workerID, address: request.address, reason: request.reason)
        return .with { $0.killed = killed }
    }

    func shutdown(request: Drover_V1_NannyShutdownRequest, context: ServerContext) async throws
        -> Drover_V1_NannyShutdownResponse
    {
        // Answer first: stopping ends this server.
        let nanny = self.nanny
        Task { await nanny.shutdown() }
        return .init()
    }
}
