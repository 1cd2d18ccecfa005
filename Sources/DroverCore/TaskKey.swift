/// The name of one task and of the result it produces, unique within a graph.
///
/// Keys made by ``TaskFunction/delayed(_:key:pure:)`` read `"<function>-<token>"`, where the token
/// hashes the function name and the encoded arguments, so the same call always gets the same key
/// (Dask's "pure" default). Any string is a valid key when given explicitly.
public struct TaskKey: Hashable, Sendable, Comparable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The key's text.
    public var rawValue: String

    /// Creates a key from its text.
    public init(_ rawValue: String) {
        self.rawValue = rawValue
    }

    public init(stringLiteral value: String) {
        self.rawValue = value
    }

    /// Creates the key `"<function>-<token>"`.
    public init(function: String, token: String) {
        self.rawValue = "\(function)-\(token)"
    }

    public var description: String { rawValue }

    public static func < (lhs: TaskKey, rhs: TaskKey) -> Bool { lhs.rawValue < rhs.rawValue }
}
