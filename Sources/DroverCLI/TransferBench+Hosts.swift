import ArgumentParser
import DroverClient
import DroverCore
import DroverLocal
import DroverProto
import Foundation
import Glibc

/// Two "hosts" for `drover bench transfer --across-namespaces`: network namespaces of this
/// machine joined by a veth pair (as scripts/test-multihost does with a bridge), with names and
/// a subnet of this process's own, removed when the run ends.
struct NamespaceHosts {
    /// The producer's namespace (the bench itself, the scheduler and worker 0 run there).
    var first: String
    /// The consumer's namespace (worker 1).
    var second: String
    var firstAddress: String
    var secondAddress: String

    /// The `--inside-namespaces` value that hands the hosts to the bench run inside the first.
    var argument: String { [first, second, firstAddress, secondAddress].joined(separator: ",") }

    static let ip = "/usr/sbin/ip"

    /// Makes the two namespaces and the link between them.
    ///
    /// - Throws: When an `ip` command fails (not root, no `ip netns`); what was made is removed.
    static func make() throws -> NamespaceHosts {
        let pid = getpid()
        let subnet = "10.232.\(pid % 250 + 1)"
        let hosts = NamespaceHosts(
            first: "drvb\(pid)-a", second: "drvb\(pid)-b", firstAddress: "\(subnet).1", secondAddress: "\(subnet).2")
        do {
            try run(["netns", "add", hosts.first])
            try run(["netns", "add", hosts.second])
            try run([
                "-n", hosts.first, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", hosts.second,
            ])
            for (namespace, address) in [(hosts.first, hosts.firstAddress), (hosts.second, hosts.secondAddress)] {
                try run(["-n", namespace, "addr", "add", "\(address)/24", "dev", "eth0"])
                try run(["-n", namespace, "link", "set", "eth0", "up"])
                try run(["-n", namespace, "link", "set", "lo", "up"])
            }
        } catch {
            hosts.remove()
            throw error
        }
        return hosts
    }

    /// Parses ``argument`` (the first namespace is the one this process runs in).
    init?(argument: String) {
        let parts = argument.split(separator: ",").map(String.init)
        guard parts.count == 4 else { return nil }
        self.init(first: parts[0], second: parts[1], firstAddress: parts[2], secondAddress: parts[3])
    }

    private init(first: String, second: String, firstAddress: String, secondAddress: String) {
        self.first = first
        self.second = second
        self.firstAddress = firstAddress
        self.secondAddress = secondAddress
    }

    /// Ends whatever still runs in the namespaces (a peer's daemons left by a failed run: every
    /// process in them was started by this bench) and deletes them (the veth pair goes with them).
    func remove() {
        for namespace in [first, second] {
            Self.endProcesses(in: namespace, within: .seconds(2))
            try? Self.run(["netns", "del", namespace], quiet: true)
        }
    }

    /// Sends SIGTERM to every process in `namespace` but this one, then SIGKILL to those left
    /// after `grace`. Only namespaces this bench made are passed here, so everything in them is
    /// the bench's own (Ray's daemons re-parent themselves, so their pids are found this way).
    static func endProcesses(in namespace: String, within grace: Duration) {
        func pids() -> [pid_t] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: ip)
            process.arguments = ["netns", "pids", namespace]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            guard (try? process.run()) != nil else { return [] }
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return String(decoding: data, as: UTF8.self).split(whereSeparator: \.isWhitespace)
                .compactMap { pid_t($0) }.filter { $0 != getpid() }
        }
        var left = pids()
        for pid in left { kill(pid, SIGTERM) }
        let deadline = ContinuousClock.now + grace
        while !left.isEmpty, ContinuousClock.now < deadline {
            usleep(100_000)
            left = pids()
        }
        for pid in left { kill(pid, SIGKILL) }
    }

    /// Runs `ip` with `arguments` and waits for it (a short command of the bench's set-up).
    static func run(_ arguments: [String], quiet: Bool = false) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ip)
        process.arguments = arguments
        if quiet { process.standardError = FileHandle.nullDevice }
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ValidationError("`ip \(arguments.joined(separator: " "))` failed (\(process.terminationStatus))")
        }
    }
}

extension TransferBench {
    /// Makes the two hosts, runs this bench again inside the first one with `--inside-namespaces`,
    /// and removes them.
    func runAcrossNamespaces() async throws {
        guard getuid() == 0 else { throw ValidationError("--across-namespaces needs root (network namespaces).") }
        let hosts = try NamespaceHosts.make()
        defer { hosts.remove() }
        var arguments = [
            "netns", "exec", hosts.first, ProcessPool.currentExecutablePath, "bench", "transfer",
            "--inside-namespaces", hosts.argument, "--sizes", sizes, "--repeats", String(repeats),
        ]
        if gib { arguments.append("--gib") }
        if let only { arguments += ["--only", only] }
        if getData { arguments.append("--get-data") }
        if compareDask { arguments.append("--compare-dask") }
        if compareRay { arguments.append("--compare-ray") }
        print(
            "hosts: network namespaces \(hosts.first) (\(hosts.firstAddress)) and \(hosts.second) "
                + "(\(hosts.secondAddress)), one veth pair")
        fflush(nil)  // this line before the inner run's output
        let process = Process()
        process.executableURL = URL(fileURLWithPath: NamespaceHosts.ip)
        process.arguments = arguments
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            process.terminationHandler = { _ in continuation.resume() }
            do { try process.run() } catch { continuation.resume(throwing: error) }
        }
        guard process.terminationStatus == 0 else {
            throw ValidationError("the bench inside \(hosts.first) failed (\(process.terminationStatus))")
        }
    }

    /// Every kind and size with worker 0 (the producer) here and worker 1 in the second
    /// namespace; with `grpc`, the workers use `DROVER_PROTOCOL=grpc` (GetData messages, as before
    /// the bulk stream). Times by "kind/size".
    func runAcrossHosts(
        _ hosts: NamespaceHosts, kinds: [Kind], mebibytes: [Int], grpc: Bool
    ) async throws -> [String: Timings] {
        var environment = ProcessInfo.processInfo.environment
        environment["DROVER_PROTOCOL"] = grpc ? "grpc" : nil
        let executable = ProcessPool.currentExecutablePath
        var processes: [ListeningProcess] = []
        defer {
            for process in processes.reversed() { kill(process.pid, SIGTERM) }
            for process in processes.reversed() { _ = Spawn.wait(process.pid) }
        }
        let scheduler = try ListeningProcess.launch(
            executable,
            arguments: [
                "scheduler", "--host", hosts.firstAddress, "--port", "0", "--no-dashboard", "--log-level", "error",
            ],
            environment: environment)
        processes.append(scheduler)
        let address = try await scheduler.listeningAddress()
        // DROVER_BENCH_WORKER_LOG=debug shows the workers' fetches (and failed ones) on stderr.
        let logLevel = ProcessInfo.processInfo.environment["DROVER_BENCH_WORKER_LOG"] ?? "error"
        let worker = ["--no-nanny", "--nthreads", "1", "--log-level", logLevel]
        processes.append(
            try ListeningProcess.launch(
                executable, arguments: ["worker", address, "--host", hosts.firstAddress, "--name", "w0"] + worker,
                environment: environment))
        processes.append(
            try ListeningProcess.launch(
                NamespaceHosts.ip,
                arguments: [
                    "netns", "exec", hosts.second, executable, "worker", address, "--host", hosts.secondAddress,
                ]
                    + ["--name", "w1"] + worker,
                environment: environment))
        for process in processes.dropFirst() { _ = try await process.listeningAddress() }
        let client = try await Client.connect(address, setAsDefault: false)
        var times: [String: Timings] = [:]
        do {
            try await client.waitForWorkers(2)
            // "10.x.y.1:…" sorts first: the producer is the worker of this namespace.
            let workers = client.workerAddresses.sorted()
            times = try await measureAll(kinds: kinds, mebibytes: mebibytes, client: client, workers: workers)
        } catch {
            await client.close()
            throw error
        }
        await client.close()
        return times
    }
}

extension TransferBench {
    /// Dask's side across the two hosts: a scheduler and a worker (one thread, no nanny) here, a
    /// worker in the second namespace, and `scripts/dask/transfer_bench.py` against them (the value
    /// is made on the worker whose address sorts first, this namespace's). Its JSON lines.
    static func runDask(across hosts: NamespaceHosts, arguments: [String]) async throws -> [[String: String]] {
        let python = URL(fileURLWithPath: PeerComparison.dask.python).standardizedFileURL.path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw ValidationError("no Python with Dask at \(python): run scripts/dask-venv or set DROVER_DASK_PYTHON")
        }
        let directory = try PrivateDirectory(prefix: "drover-dask-hosts")
        defer { directory.remove() }
        let schedulerFile = directory.path + "/scheduler.json"
        let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer { close(null) }
        var pids: [pid_t] = []
        // The workers first, one at a time, while their scheduler is still there: a Dask worker
        // whose scheduler is gone can take minutes to close (seen here); and SIGKILL after 10 s.
        defer { for pid in pids.reversed() { Spawn.stop(pid, within: .seconds(10)) } }
        func start(_ executable: String, _ arguments: [String]) throws {
            pids.append(try Spawn.start(executable, arguments: arguments, descriptors: [(null, 1), (null, 2)]))
        }
        try start(
            python,
            [
                "-m", "distributed.cli.dask_scheduler", "--host", hosts.firstAddress, "--port", "0", "--no-dashboard",
                "--scheduler-file", schedulerFile,
            ])
        for _ in 0..<600 where !FileManager.default.fileExists(atPath: schedulerFile) {
            try await Task.sleep(for: .milliseconds(100))
        }
        guard FileManager.default.fileExists(atPath: schedulerFile) else {
            throw ValidationError("Dask's scheduler wrote no scheduler file within 60 s")
        }
        let worker = [
            "-m", "distributed.cli.dask_worker", "--scheduler-file", schedulerFile, "--nthreads", "1", "--no-nanny",
            "--no-dashboard",
        ]
        try start(python, worker + ["--host", hosts.firstAddress])
        try start(
            NamespaceHosts.ip, ["netns", "exec", hosts.second, python] + worker + ["--host", hosts.secondAddress])
        return try await PeerComparison.dask.run(
            script: "scripts/dask/transfer_bench.py", arguments: arguments + ["--scheduler-file", schedulerFile])
    }

    /// Ray's side across the two hosts: a head node here offering the resource `producer` (one
    /// CPU) and a node in the second namespace offering `consumer`, joined as one cluster
    /// (`ray start --block`, plaintext: no token, as Drover's run), and
    /// `scripts/ray/transfer_bench.py --address` against them. Its JSON lines. Every Ray process
    /// is ended before this returns, found by namespace (its daemons leave `ray start`'s tree).
    static func runRay(across hosts: NamespaceHosts, arguments: [String]) async throws -> [[String: String]] {
        let python = URL(fileURLWithPath: PeerComparison.ray.python).standardizedFileURL
        let ray = python.deletingLastPathComponent().appendingPathComponent("ray").path
        guard FileManager.default.isExecutableFile(atPath: ray) else {
            throw ValidationError("no Ray at \(ray): run scripts/ray-venv or set DROVER_RAY_PYTHON")
        }
        // Ray 2.60 turns token authentication on for `ray start`; Drover's side is plaintext too.
        setenv("RAY_AUTH_MODE", "disabled", 1)
        setenv("RAY_USAGE_STATS_ENABLED", "0", 1)
        let directory = try PrivateDirectory(prefix: "drover-ray-hosts")
        var pids: [pid_t] = []
        defer {
            for pid in pids.reversed() { Spawn.stop(pid, within: .seconds(10)) }
            NamespaceHosts.endProcesses(in: hosts.second, within: .seconds(10))
            NamespaceHosts.endProcesses(in: hosts.first, within: .seconds(10))
            directory.remove()
        }
        let gcs = "\(hosts.firstAddress):6379"  // the namespace is the bench's own: the port is free
        // 3 GB of object store a node: a 1 GiB value (--gib) and its copy fit.
        let node = ["--num-cpus", "1", "--object-store-memory", "3000000000", "--block"]
        func start(_ executable: String, _ arguments: [String], log: String) throws {
            let output = open(directory.path + "/" + log, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
            defer { close(output) }
            pids.append(
                try Spawn.start(
                    executable, arguments: arguments, environment: ProcessInfo.processInfo.environment,
                    descriptors: [(output, 1), (output, 2)]))
        }
        try start(
            ray,
            [
                "start", "--head", "--node-ip-address", hosts.firstAddress, "--port", "6379",
                "--include-dashboard", "false", "--resources", #"{"producer": 1}"#,
                // Its session, and the file naming "the cluster on this machine" that a later
                // `ray.init()` would join, in the bench's own directory (removed at the end).
                "--temp-dir", directory.path,
            ] + node, log: "head.log")
        try start(
            NamespaceHosts.ip,
            [
                "netns", "exec", hosts.second, ray, "start", "--address", gcs, "--node-ip-address",
                hosts.secondAddress, "--resources", #"{"consumer": 1}"#,
            ] + node, log: "node.log")
        return try await PeerComparison.ray.run(
            script: "scripts/ray/transfer_bench.py", arguments: arguments + ["--address", gcs])
    }
}

/// The raw floor between the two hosts: a plain TCP copy of the same number of bytes from this
/// namespace into one reused buffer in the other (a Python receiver using `recv_into`), timed
/// from connect to the receiver's one-byte acknowledgement; median of the repeats.
enum TCPFloor {
    static let receiver = """
        import socket, sys
        host, size, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
        server = socket.socket()
        server.bind((host, 0))
        server.listen(1)
        print(f"LISTENING {host}:{server.getsockname()[1]}", flush=True)
        view = memoryview(bytearray(size))
        for _ in range(repeats):
            connection, _ = server.accept()
            got = 0
            while got < size:
                n = connection.recv_into(view[got:], size - got)
                if n == 0:
                    break
                got += n
            connection.sendall(b"k")
            connection.close()
        """

    /// MiB/s from here to `host` in `namespace`.
    static func measure(bytes: Int, repeats: Int, namespace: String, host: String) async throws -> Double {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin"
        let python = path.split(separator: ":").map { "\($0)/python3" }.first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
        guard let python else { throw ValidationError("the TCP floor needs python3 on PATH") }
        // One repeat more than measured: the first touches the receiver's buffer.
        let process = try ListeningProcess.launch(
            NamespaceHosts.ip,
            arguments: ["netns", "exec", namespace, python, "-c", receiver, host, String(bytes), String(repeats + 1)])
        defer {
            kill(process.pid, SIGTERM)
            _ = Spawn.wait(process.pid)
        }
        let address = try await process.listeningAddress()
        guard let endpoint = HostAndPort(address) else { throw ValidationError("the receiver said '\(address)'") }
        let source = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 4096)
        defer { source.deallocate() }
        memset(source, 7, bytes)
        var times: [Duration] = []
        for _ in 0...repeats {
            times.append(try await copy(source, bytes: bytes, to: endpoint))
        }
        return Double(bytes) / Double(1 << 20) / LocalBench.median(Array(times.dropFirst())).inSeconds
    }

    /// One copy on a thread of its own (blocking socket calls stay off the async executor).
    private static func copy(_ source: UnsafeMutableRawPointer, bytes: Int, to endpoint: HostAndPort) async throws
        -> Duration
    {
        let address = UInt(bitPattern: source)
        return try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(
                    with: Result {
                        try blockingCopy(UnsafeRawPointer(bitPattern: address)!, bytes: bytes, to: endpoint)
                    })
            }
        }
    }

    private static func blockingCopy(_ source: UnsafeRawPointer, bytes: Int, to endpoint: HostAndPort) throws
        -> Duration
    {
        let start = ContinuousClock.now
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw ValidationError("socket: \(errno)") }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(endpoint.port).bigEndian
        address.sin_addr.s_addr = inet_addr(endpoint.host)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw ValidationError("connect to \(endpoint.host): \(errno)") }
        var sent = 0
        while sent < bytes {
            let written = write(socket, source + sent, min(bytes - sent, 4 << 20))
            guard written > 0 else { throw ValidationError("write: \(errno)") }
            sent += written
        }
        var ack: UInt8 = 0
        guard read(socket, &ack, 1) == 1 else { throw ValidationError("the receiver did not acknowledge") }
        return ContinuousClock.now - start
    }
}
