public import DroverCore
import DroverProto
import Foundation

extension Drover {
    /// Serves tasks and exits when this process was started as a worker of the processes
    /// scheduler; returns at once otherwise. Call it first thing in `main`:
    ///
    /// ```swift
    /// await Drover.bootstrap(registry)
    /// ```
    ///
    /// Like Python's multiprocessing "spawn", the processes scheduler re-executes the current
    /// program, and this is where the copy turns into a worker that runs functions of `registry`
    /// by name.
    ///
    /// A program that also starts a local cluster (`Client.local`) calls
    /// `DroverCommand.bootstrap(registry)` instead, which serves this role and the cluster's
    /// (`scheduler`, `nanny`, `worker`). Started in one of those, this exits with
    /// ``ChildRole/exitCode`` and one line saying so, and the parent reports what to call.
    public static func bootstrap(_ registry: TaskRegistry) async {
        if let role = ChildRole.current, ChildRole.commandRoles.contains(role) {
            let line =
                "drover: process \(getpid()) was started to serve as a \(role), which Drover.bootstrap "
                + "cannot serve; \(ChildRole.remedy).\n"
            FileHandle.standardError.write(Data(line.utf8))
            _exit(ChildRole.exitCode)
        }
        let environment = ProcessInfo.processInfo.environment
        guard let fdText = environment[ChildProcess.fdVariable], let fd = Int32(fdText) else { return }
        // It dies with the parent, even in the middle of a long task: SIGKILL on the parent's
        // death, asked for on the main thread before Swift ran (a constructor in CDroverSupport).
        if let parent = environment[ChildProcess.parentVariable].flatMap(pid_t.init), getppid() != parent {
            exit(0)
        }
        unsetenv(ChildProcess.fdVariable)
        unsetenv(ChildProcess.parentVariable)
        ChildRole.clear()
        let thread = ThreadPool(threads: 1, name: "drover-task")
        await withTaskExecutorPreference(thread) {
            await TaskProcessWorker(fd: fd, registry: registry).serve()
        }
        exit(0)
    }
}

extension Drover {
    /// Set in the environment of a child `drover` process that must die with its parent, to the
    /// parent's pid (``exitWithParentValue``).
    public static let exitWithParentVariable = "DROVER_EXIT_WITH_PARENT"

    /// The value of ``exitWithParentVariable`` for a child of this process: this process's pid.
    public static var exitWithParentValue: String { String(getpid()) }
    /// Names the `cgroup.procs` file a child worker joins before anything else (set by its nanny).
    public static let cgroupProcsVariable = "DROVER_CGROUP_PROCS"

    /// Names the spill directory a child worker uses (set by its nanny, which removes it when the
    /// worker exits: a worker that is killed cannot remove its own).
    public static let spillDirectoryVariable = "DROVER_SPILL_DIRECTORY"

    /// 16 hex digits from the system's random number generator: the part of a private name
    /// (a spill directory, a segment socket) that no other local user can guess and take first.
    public static func unguessableSuffix() -> String {
        var generator = SystemRandomNumberGenerator()
        let hex = String(generator.next() as UInt64, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// Where a worker keeps its spill directory: `localDirectory` (`--local-directory`) when
    /// given, else the service's `RUNTIME_DIRECTORY` under systemd, else the system's temporary
    /// directory. A nanny asks the same, so it names its workers' directories where they would be.
    public static func spillParent(localDirectory: String?) -> String {
        let runtime = ProcessInfo.processInfo.environment["RUNTIME_DIRECTORY"]?.split(separator: ":").first
        return localDirectory ?? runtime.map(String.init) ?? FileManager.default.temporaryDirectory.path
    }

    /// Ends this process (SIGTERM from the kernel) when its parent dies, so that children started
    /// by a local cluster or a nanny never outlive it. A parent that died before this call is
    /// caught by comparing the parent's pid with the one the parent recorded in
    /// ``exitWithParentVariable``: an orphan is adopted by pid 1 or, in a container or under a
    /// service manager, by a subreaper with some other pid, so `getppid() == 1` alone misses it.
    ///
    /// The request itself is made before any Swift code runs, on the main thread, by a constructor
    /// in `CDroverSupport` for every process with ``exitWithParentVariable`` in its environment at
    /// start: the kernel keeps it per thread and sends the signal only while the thread that made
    /// it lives, and a thread of Swift's pool (where this runs) does not live as long as the
    /// process: a nanny that asked from one outlived its parent once that thread ended. This call
    /// checks that the parent is still the one that started this process.
    public static func exitWithParent() {
        let recorded = ProcessInfo.processInfo.environment[exitWithParentVariable].flatMap(pid_t.init)
        unsetenv(exitWithParentVariable)  // not for this process's own children: they get its pid
        guard isChild(of: recorded, parent: getppid()) else {
            // Not `raise(SIGTERM)`: that signals only the calling thread, and this one (a thread
            // of Swift's pool) blocks the signal, so the process lived on as an orphan.
            let line =
                "drover: process \(getpid()) is exiting: the process that started it "
                + "(pid \(recorded.map(String.init) ?? "?")) is gone.\n"
            FileHandle.standardError.write(Data(line.utf8))
            _exit(orphanExitCode)
        }
    }

    /// The exit code of a child that found its parent gone before it started (as if SIGTERM,
    /// the parent-death signal, had ended it).
    public static let orphanExitCode: Int32 = 128 + SIGTERM

    /// Whether a process whose parent is now `parent` still has the parent that started it
    /// (`recorded`; nil when the starter did not say, and then only pid 1 means orphaned).
    static func isChild(of recorded: pid_t?, parent: pid_t) -> Bool {
        guard let recorded else { return parent != 1 }
        return parent == recorded
    }

    /// Moves this process into the cgroup its nanny made for it (``cgroupProcsVariable``), before
    /// it runs any task; exits with a clear message when that fails, since running outside the
    /// limit would break the nanny's promise.
    public static func joinCgroup() {
        guard let procs = ProcessInfo.processInfo.environment[cgroupProcsVariable], !procs.isEmpty else { return }
        unsetenv(cgroupProcsVariable)
        let fd = open(procs, O_WRONLY | O_CLOEXEC)
        let text = "\(getpid())\n"
        let written = fd >= 0 ? text.withCString { write(fd, $0, strlen($0)) } : -1
        let error = errno
        if fd >= 0 { close(fd) }
        guard written > 0 else {
            FileHandle.standardError.write(
                Data("drover: cannot join the cgroup \(procs): \(String(cString: strerror(error)))\n".utf8))
            exit(70)
        }
    }
}

/// The worker side of the processes scheduler: reads tasks from the parent, runs them one at a
/// time, answers with the result or the error.
struct TaskProcessWorker {
    let fd: Int32
    let registry: TaskRegistry

    func serve() async {
        let pid = getpid()
        let location = "pid \(pid)"
        var greeting = Drover_V1_ExecuteResponse()
        greeting.pid = pid
        guard (try? Frames.write(greeting, to: fd)) != nil else { return }
        while true {
            let request: Drover_V1_ExecuteRequest
            do {
                guard let next = try Frames.read(Drover_V1_ExecuteRequest.self, from: fd) else { return }
                request = next
            } catch {
                FileHandle.standardError.write(Data("drover task process \(pid): \(error); exiting\n".utf8))
                return
            }
            var response = Drover_V1_ExecuteResponse()
            response.id = request.id
            response.pid = pid
            switch await execute(request, location: location) {
            case .success(let payload): response.result = payload.proto
            case .failure(let error): response.error = error.proto
            }
            guard (try? Frames.write(response, to: fd)) != nil else { return }
        }
    }

    private func execute(_ request: Drover_V1_ExecuteRequest, location: String) async -> Result<Payload, TaskError> {
        let key = TaskKey(request.key)
        guard let function = registry[request.function] else {
            return .failure(.unknownFunction(request.function, key: key, known: registry.names, location: location))
        }
        let arguments: [ArgumentValue]
        do {
            arguments = try request.arguments.map { try ArgumentValue(proto: $0) }
        } catch {
            return .failure(
                TaskError(
                    kind: .badArgument, key: key, function: function.name, message: "\(error)", location: location)
            )
        }
        return await function.runEncoded(key: key, arguments: arguments, location: location)
    }
}
