/// A memory size or limit that could not be read or does not fit: ``MemorySize/parse(_:)``,
/// ``MemoryLimit/parse(_:)`` and ``MemoryLimit/resolve(hostLimit:workers:)`` throw it.
public struct MemorySizeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong, naming the text and giving examples of what is accepted.
    public var message: String

    /// Creates an error with a message for the user.
    ///
    /// - Parameter message: The broken rule, e.g. "'4 bananas' is not a memory size (examples: 4GiB, 500MB, 1e9)."
    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
