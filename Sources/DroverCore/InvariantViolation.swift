/// A broken internal rule of a state machine, found by its `checkInvariants()`.
public struct InvariantViolation: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
