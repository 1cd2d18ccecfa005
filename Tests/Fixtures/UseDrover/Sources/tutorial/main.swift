// The Dask tutorial in a package of its own that depends on Drover: the single-machine schedulers,
// then a local cluster with futures. (`inc` sleeps 0.2 s here where the tutorial's sleeps 1 s.)
import DroverCLI
import DroverClient
import DroverCore
import DroverLocal
import Foundation

let inc = TaskFunction("inc") { (x: Int) async throws -> Int in
    try await Task.sleep(for: .milliseconds(200))
    return x + 1
}
let double = TaskFunction("double") { (x: Int) in 2 * x }
let add = TaskFunction("add") { (x: Int, y: Int) in x + y }
let sum = TaskFunction("sum") { (xs: [Int]) in xs.reduce(0, +) }

var registry = TaskRegistry()
registry.register(inc)
registry.register(double)
registry.register(add)
registry.register(sum)

// Drover runs this program again as its child processes (the processes scheduler's workers, a local
// cluster's scheduler, nanny and workers). In those, this serves the role and exits; here it returns.
await DroverCommand.bootstrap(registry)

// Single machine, like dask.delayed: nothing runs until compute().
let total = sum.delayed((0..<8).map { inc.delayed($0) })
print("threads:", try await total.compute())
print("processes:", try await total.compute(scheduler: .processes(workers: 4)))

// Distributed, like dask.distributed: a scheduler and workers as child processes.
let client = try await Client.local(workers: 2, threadsPerWorker: 2, memoryLimit: "0")  // owns the cluster
print("cluster:", try await total.compute())  // the client is now the default scheduler
print("submit:", try await client.submit(inc, 1).result())
print("map:", try await client.gather(try client.map(inc, Array(0..<8))))
var output: [Future<Int>] = []
for x in 0..<10 {
    let a = try client.submit(inc, x)
    let b = try client.submit(double, x)
    output.append(try client.submit(add, a, b))
}
print("exercise:", try await client.submit(sum, output).result())
await client.close()  // stops the cluster too
