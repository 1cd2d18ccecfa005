public import DroverCore

// MARK: - Checking a submission before anything changes

extension SchedulerState {
    /// What ``checkSubmission(_:wants:)`` makes of a client's submission.
    public struct SubmissionVerdict: Sendable, Hashable {
        /// The tasks to add, in the submission's order, each key once; every dependency of each is
        /// either among them (earlier or later) or already known to the scheduler, and no cycle
        /// runs through them.
        public var accepted: [SubmittedTask] = []
        /// The tasks refused, in the submission's order, each with its reason.
        public var rejected: [TaskError] = []
        /// `wants` naming a key that is neither submitted nor known (nor rejected: those are in
        /// ``rejected`` already).
        public var unknownWants: [TaskKey] = []
    }

    /// Checks a submission as a whole against the scheduler's tasks, changing nothing.
    ///
    /// A task is rejected when its key is empty or longer than
    /// ``Configuration/maxKeyBytes``, it names no function, its literal arguments take more than
    /// ``Configuration/maxArgumentBytes``, the submission holds another task under its key, the
    /// scheduler knows its key as a different task, it depends on itself, it is part of (or depends
    /// on) a dependency cycle, it depends on a key that is neither in the submission nor known, or
    /// it depends on a task rejected for any of these reasons. Tasks already known with the same
    /// spec are neither accepted (nothing to add) nor rejected.
    ///
    /// Runs in time linear in the submission's tasks and edges.
    public func checkSubmission(_ submitted: [SubmittedTask], wants: [TaskKey]) -> SubmissionVerdict {
        var verdict = SubmissionVerdict()
        var reasons: [TaskKey: String] = [:]
        // The first spec seen for each new key; a second, different spec rejects the key.
        var candidates: [TaskKey: Int] = [:]
        // Each key once, with the index of its first task (whose function an error names).
        var order: [(key: TaskKey, index: Int)] = []
        for (index, task) in submitted.enumerated() {
            let key = task.spec.key
            if reasons[key] != nil { continue }
            if let reason = localProblem(task.spec) {
                reasons[key] = reason
                order.append((key, index))
                continue
            }
            if let known = tasks[key] {
                if known.function != task.spec.function || known.spec(key: key) != task.spec {
                    reasons[key] =
                        "the scheduler already knows the key '\(key)' as another task (function "
                        + "'\(known.function)'): a key names one task; submit this one under another key, "
                        + "or release the old one first"
                    order.append((key, index))
                }
                continue
            }
            if let first = candidates[key] {
                if submitted[first].spec != task.spec {
                    reasons[key] = "the submission holds two different tasks under the key '\(key)'"
                    candidates[key] = nil
                }
                continue
            }
            candidates[key] = index
            order.append((key, index))
        }
        orderTopologically(submitted, candidates: &candidates, reasons: &reasons)
        for (key, first) in order {
            if let reason = reasons[key] {
                verdict.rejected.append(
                    TaskError(
                        kind: .rejected, key: key, function: submitted[first].spec.function,
                        message: "the scheduler rejected the task: \(reason)"))
            } else if let index = candidates[key] {
                verdict.accepted.append(submitted[index])
            }
        }
        for key in wants where reasons[key] == nil && candidates[key] == nil && tasks[key] == nil {
            verdict.unknownWants.append(key)
        }
        return verdict
    }

    /// What is wrong with the task on its own, if anything.
    private func localProblem(_ spec: TaskSpec) -> String? {
        let keyBytes = spec.key.rawValue.utf8.count
        if keyBytes == 0 { return "its key is empty" }
        if keyBytes > configuration.maxKeyBytes {
            return "its key is \(keyBytes) bytes long, over the limit of \(configuration.maxKeyBytes)"
        }
        if spec.function.isEmpty { return "it names no function" }
        if spec.function.utf8.count > configuration.maxKeyBytes {
            return "its function name is over the limit of \(configuration.maxKeyBytes) bytes"
        }
        let argumentBytes = spec.arguments.reduce(0) { $0 + $1.literalBytes }
        if argumentBytes > configuration.maxArgumentBytes {
            return "its arguments take \(argumentBytes) bytes, over the scheduler's limit of "
                + "\(configuration.maxArgumentBytes) per task: put large values on the workers first "
                + "(client.scatter) and pass the future instead"
        }
        return nil
    }

    /// Kahn's algorithm over the candidates' edges among themselves: a candidate that never becomes
    /// ready is on a cycle or depends on one; a candidate depending on a rejected task or on a key
    /// nobody has is rejected, and so, in turn, are its dependents.
    private func orderTopologically(
        _ submitted: [SubmittedTask],
        candidates: inout [TaskKey: Int],
        reasons: inout [TaskKey: String]
    ) {
        var pending: [TaskKey: Int] = [:]
        var dependents: [TaskKey: [TaskKey]] = [:]
        var ready: [TaskKey] = []
        for (key, index) in candidates {
            var count = 0
            for dependency in submitted[index].spec.dependencies {
                if dependency == key {
                    reasons[key] = "it depends on itself"
                } else if candidates[dependency] != nil || reasons[dependency] != nil {
                    count += 1
                    dependents[dependency, default: []].append(key)
                } else if tasks[dependency] == nil {
                    reasons[key] =
                        "it depends on '\(dependency)', which is neither in this submission nor held by "
                        + "the scheduler (released, or never submitted)"
                }
            }
            pending[key] = count
            if count == 0 { ready.append(key) }
        }
        // Rejected keys (here or before) release their dependents too, passing the rejection on.
        ready.append(contentsOf: reasons.keys.filter { candidates[$0] == nil && dependents[$0] != nil })
        var done: Set<TaskKey> = []
        while let key = ready.popLast() {
            guard done.insert(key).inserted else { continue }
            for dependent in dependents[key] ?? [] {
                if reasons[key] != nil && reasons[dependent] == nil {
                    reasons[dependent] = "it depends on '\(key)', which was rejected"
                }
                pending[dependent]! -= 1
                if pending[dependent]! == 0 { ready.append(dependent) }
            }
        }
        for key in candidates.keys where !done.contains(key) && reasons[key] == nil {
            reasons[key] = "it is part of, or depends on, a dependency cycle (a task graph must be acyclic)"
        }
        for key in reasons.keys { candidates[key] = nil }
    }
}

extension ArgumentSpec {
    /// Bytes of the literal values in this argument (references count nothing).
    var literalBytes: Int {
        switch self {
        case .value(let payload): payload.data.count + payload.typeName.utf8.count
        case .key: 0
        case .list(let items): items.reduce(0) { $0 + $1.literalBytes }
        }
    }
}
