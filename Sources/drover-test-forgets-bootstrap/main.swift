// A careless user's program: it registers its functions and computes on the processes scheduler,
// but never calls `await Drover.bootstrap(registry)`, so each worker process runs this main again.
// It prints `RESULT <value>` or `ERROR <message>` on stdout.
//
// With `DROVER_TEST_MAIN_RUNS` naming a file, every run of this main appends its pid there: the
// tests count how many processes ran it.
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

var registry = TaskRegistry.builtins
registry.register(Builtins.plus)
print("registered \(registry.names.count) functions")
let total = Builtins.sum.delayed((0..<8).map { Builtins.plus.delayed($0, 1) })
do {
    let value = try await total.compute(scheduler: .processes(workers: 4))
    print("RESULT \(value)")
} catch {
    print("ERROR \(String(describing: error).replacingOccurrences(of: "\n", with: " "))")
    exit(1)
}
