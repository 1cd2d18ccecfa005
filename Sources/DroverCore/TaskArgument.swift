/// Something that can stand as an argument of a task: a plain value, a ``Delayed`` result, a future
/// of the distributed client, or an array of any of these.
///
/// `Value` is the type the task function receives for it. Plain values conform through
/// ``TaskValue``; arrays of arguments are arguments whose value is the array of their values.
public protocol TaskArgument<Value>: Sendable {
    /// The type the task function receives.
    associatedtype Value: TaskValue

    /// Describes this argument for a task spec, recording any task it depends on in `context`.
    func makeArgument(in context: inout ArgumentContext) throws -> ArgumentSpec
}

/// Collects what building one task's arguments depends on.
public struct ArgumentContext: Sendable {
    /// The lazy tasks referenced by the arguments, in order of appearance.
    public var dependencies: [DelayedNode] = []
    /// Keys referenced that no lazy task here produces: results already on a cluster (futures).
    public var externalKeys: [TaskKey] = []

    public init() {}
}

/// An argument in a task spec: a literal value, the result of another task, or a list.
public indirect enum ArgumentSpec: Sendable, Hashable {
    /// An encoded literal.
    case value(Payload)
    /// The result of the task with this key.
    case key(TaskKey)
    /// A list whose items are arguments (e.g. `[Delayed<Int>]` passed as `[Int]`).
    case list([ArgumentSpec])

    /// Calls `body` for every key this argument references, in order.
    public func forEachKey(_ body: (TaskKey) throws -> Void) rethrows {
        switch self {
        case .value: return
        case .key(let key): try body(key)
        case .list(let items):
            for item in items { try item.forEachKey(body) }
        }
    }
}

/// An argument whose references are resolved: what a task function receives.
public indirect enum ArgumentValue: @unchecked Sendable {
    // @unchecked: `.object` holds `any TaskValue`, which refines Sendable; the enum is immutable.

    /// An encoded value.
    case payload(Payload)
    /// A value still in memory (threads and single-threaded schedulers never encode results).
    case object(any TaskValue)
    /// A list of values.
    case list([ArgumentValue])

    /// A short description of what this holds, for error messages.
    public var typeDescription: String {
        switch self {
        case .payload(let payload): payload.typeName.isEmpty ? "\(payload.encoding) payload" : payload.typeName
        case .object(let value): type(of: value).taskTypeName
        case .list(let items): "a list of \(items.count) items"
        }
    }

    /// Encodes every in-memory value, for sending to another process.
    public func encoded() throws -> ArgumentValue {
        switch self {
        case .payload: self
        case .object(let value): .payload(try value.encodePayload())
        case .list(let items): .list(try items.map { try $0.encoded() })
        }
    }
}

extension Array: TaskArgument where Element: TaskArgument {
    public typealias Value = [Element.Value]

    public func makeArgument(in context: inout ArgumentContext) throws -> ArgumentSpec {
        // A list of plain values travels as one payload (one packed buffer for [Double]);
        // a list holding any lazy value keeps its items so each can be resolved.
        if let values = self as? any TaskValue {
            return .value(try values.encodePayload())
        }
        return .list(try map { try $0.makeArgument(in: &context) })
    }
}
