public import ArgumentParser
import DroverClient
public import DroverCore
import DroverLocal
import Foundation
import Synchronization

/// The whole `drover` command line as a library, so a program can be its own `drover` binary with
/// its task functions added:
///
/// ```swift
/// // main.swift of your executable
/// var registry = TaskRegistry.builtins
/// registry.register(myFunction)
/// await DroverCommand.main(registry: registry)
/// ```
public struct DroverCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "drover",
        abstract: "A Dask-style task scheduler: lazy graphs on threads, processes or a cluster.",
        subcommands: [
            SchedulerCommand.self, WorkerCommand.self, NannyCommand.self, StatusCommand.self, DemoCommand.self,
            BenchCommand.self, FunctionsCommand.self, CertsCommand.self,
        ]
    )

    private static let installedRegistry = Mutex(TaskRegistry.builtins)

    /// The functions this binary can run.
    static var registry: TaskRegistry { installedRegistry.withLock { $0 } }

    public init() {}

    /// Runs the CLI with `registry` as the functions this binary can run.
    ///
    /// When this process was started as a worker of the processes scheduler, it serves tasks from
    /// `registry` instead and exits.
    public static func main(registry: TaskRegistry) async {
        // A `drover` role (a local cluster's scheduler) is what this call plays: not a refusal.
        if let role = ChildRole.current, ChildRole.commandRoles.contains(role) { ChildRole.clear() }
        await Drover.bootstrap(registry)
        // This process now plays the role it was started for; the processes it starts are legitimate.
        ChildRole.clear()
        Drover.joinCgroup()
        if ProcessInfo.processInfo.environment[Drover.exitWithParentVariable] != nil {
            Drover.exitWithParent()
        }
        installedRegistry.withLock { $0 = registry }
        await main()
    }
}

/// `drover functions`: lists the registered task functions.
struct FunctionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "functions",
        abstract: "List the task functions this binary can run."
    )

    func run() {
        let registry = DroverCommand.registry
        for name in registry.names {
            print(registry[name]!.signature)
        }
    }
}
