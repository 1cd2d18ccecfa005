// A user's own `drover` binary: the stock CLI plus functions the tests need in child processes.
import DroverCLI
import DroverCore
import Foundation

var registry = TaskRegistry.builtins
registry.register(TestTasks.fail)
registry.register(TestTasks.refuse)
registry.register(TestTasks.touch)
registry.register(TestTasks.crash)
registry.register(TestTasks.processID)
registry.register(TestTasks.blockingSleep)
registry.register(TestTasks.slowPlus)
registry.register(TestTasks.filled)
registry.register(TestTasks.fanOut)
registry.register(TestTasks.waitForEvent)
registry.register(TestTasks.setEvent)
registry.register(TestTasks.whereAmI)
registry.register(TestTasks.checksumWhen)
registry.register(TestTasks.ones)
registry.register(TestTasks.sumPacked)
registry.register(TestTasks.sumDoubles)
registry.register(TestTasks.doubleInPlace)
await DroverCommand.main(registry: registry)
