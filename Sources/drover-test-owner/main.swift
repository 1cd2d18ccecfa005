// A program that owns a local cluster and waits: the tests kill it with a signal and check that its
// scheduler, nanny and workers go with it and leave no cgroup. It prints
// `READY <scheduler pid> <nanny pid>` once the workers have registered. The first argument is the
// workers' memory limit ("0" by default: no cgroups). With `drop`, it drops the cluster's handle,
// computes, closes the client and prints which of the cluster's processes still run.
import DroverCLI
import DroverClient
import DroverCore
import Foundation

await DroverCommand.bootstrap(.builtins)

let arguments = Array(CommandLine.arguments.dropFirst())
do {
    if arguments.first == "drop" {
        // Drops the cluster's handle at once: the client keeps it; then close() stops it.
        let (client, _) = try await Client.local(workers: 1, threadsPerWorker: 1, memoryLimit: "0")
        guard let cluster = client.cluster else { fatalError("Client.local returned a client without its cluster") }
        let pids = [cluster.schedulerPID, cluster.nannyPID]
        print("RESULT \(try await client.submit(Builtins.add, 1, 2).result())")
        await client.close()
        print("RUNNING AFTER CLOSE \(pids.filter { kill($0, 0) == 0 })")
    } else {
        // Only the client is kept: it owns the cluster.
        let memoryLimit = arguments.first ?? "0"
        let client = try await Client.local(workers: 2, threadsPerWorker: 1, memoryLimit: memoryLimit)
        guard let cluster = client.cluster else { fatalError("Client.local returned a client without its cluster") }
        // Unbuffered: stdout is a pipe, and this process never ends by itself.
        FileHandle.standardOutput.write(Data("READY \(cluster.schedulerPID) \(cluster.nannyPID)\n".utf8))
        while true { try await Task.sleep(for: .seconds(60)) }
    }
} catch {
    print("ERROR \(String(describing: error).replacingOccurrences(of: "\n", with: " "))")
    exit(1)
}
