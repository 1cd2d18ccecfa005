// A careless user's program: it starts a local cluster with `Client.local`, but does not call
// `DroverCommand.bootstrap(registry)`, so each child runs this main again. With
// `DROVER_TEST_BOOTSTRAP=local` it calls `Drover.bootstrap(registry)` (which serves only the processes
// scheduler's workers) instead of nothing. It prints `RESULT <address>` or `ERROR <message>` on stdout.
//
// With `DROVER_TEST_MAIN_RUNS` naming a file, every run of this main appends its pid there: the
// tests count how many processes ran it.
import DroverClient
import DroverCore
import DroverLocal
import Foundation

if let log = ProcessInfo.processInfo.environment["DROVER_TEST_MAIN_RUNS"] {
    let fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
    if fd >= 0 {
        _ = "\(getpid())\n".withCString { write(fd, $0, strlen($0)) }
        close(fd)
    }
}

if ProcessInfo.processInfo.environment["DROVER_TEST_BOOTSTRAP"] == "local" {
    await Drover.bootstrap(.builtins)
}

do {
    let (client, cluster) = try await Client.local(workers: 2, threadsPerWorker: 1, memoryLimit: "0")
    print("RESULT \(cluster.address)")
    await client.close()
    cluster.close()
} catch {
    print("ERROR \(String(describing: error).replacingOccurrences(of: "\n", with: " "))")
    exit(1)
}
