public import DroverCore

extension Array where Element == Drover_V1_WorkerCommand {
    /// The most keys one `Free` command lists: with keys of up to a few hundred bytes, a message
    /// of a few MiB, far under any peer's limit.
    public static var maxKeysPerFree: Int { 4096 }

    /// Adds a `Free` of `keys` to a worker's commands: into the last command when that is a `Free`
    /// with room (releasing many keys sends a few commands, not one per key, and nothing is
    /// reordered: a `Free` never moves past a `Compute`), never more than `maxKeys` to a command.
    public mutating func appendFree(_ keys: some Collection<TaskKey>, maxKeys: Int = maxKeysPerFree) {
        precondition(maxKeys > 0, "a Free command must have room for a key")
        var rest = keys[...]
        while !rest.isEmpty {
            if let last = indices.last, case .free? = self[last].kind, self[last].free.keys.count < maxKeys {
                // Take the command out and clear it, so the keys array has one owner and grows in
                // place (appending to a copy made this quadratic in a batch's frees). Nothing may
                // bind the keys meanwhile: a binding is a second owner, and the append copies.
                var command = removeLast()
                var free = command.free
                command.kind = nil
                let part = rest.prefix(maxKeys - free.keys.count)
                free.keys.append(contentsOf: part.map(\.rawValue))
                command.kind = .free(free)
                append(command)
                rest = rest.dropFirst(part.count)
            } else {
                var command = Drover_V1_WorkerCommand()
                command.kind = .free(Drover_V1_FreeKeys())
                append(command)
            }
        }
    }
}
