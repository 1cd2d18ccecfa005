/// A command that could not do its job for a reason found at run time (not a usage error):
/// printed as "Error: <description>", exit status 1.
struct CommandFailure: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}
