/// Something a fuzz target found: an invariant broken after an event, or an action that
/// contradicts the state that returned it.
public struct FuzzFinding: Error, Sendable, CustomStringConvertible {
    /// The target that found it (`worker`, `scheduler`, `decode`).
    public var target: String
    /// The events fed so far, the last one being the one after which the check failed, as text.
    public var events: [String]
    /// What broke.
    public var message: String

    /// Creates a finding.
    public init(target: String, events: [String], message: String) {
        self.target = target
        self.events = events
        self.message = message
    }

    public var description: String {
        var text = "\(target): \(message)\nafter \(events.count) events:"
        for (index, event) in events.enumerated() { text += "\n  \(index): \(event)" }
        return text
    }
}
