public import DroverCore
import DroverLocal
import Foundation

extension DroverCommand {
    /// Turns this process into the role a Drover parent started it for, and exits when that role
    /// ends; returns at once in the program proper. Call it first thing in `main`:
    ///
    /// ```swift
    /// await DroverCommand.bootstrap(registry)
    /// ```
    ///
    /// Drover runs the current program again as each child it starts: the processes scheduler's
    /// workers (which serve `registry` as ``Drover/bootstrap(_:)`` does), and a local cluster's
    /// scheduler and nanny and the nanny's workers (which run as `DroverCommand.main(registry:)`
    /// would). Each child carries its role in its environment (`DROVER_CHILD_ROLE`), so a program's
    /// own command line is never mistaken for one: only a process Drover started plays a role.
    ///
    /// - Parameter registry: The task functions this program can run.
    public static func bootstrap(_ registry: TaskRegistry) async {
        if let role = ChildRole.current, ChildRole.commandRoles.contains(role) {
            await main(registry: registry)
            exit(0)
        }
        await Drover.bootstrap(registry)
    }
}
