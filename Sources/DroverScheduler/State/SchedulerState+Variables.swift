public import DroverCore

// MARK: - Variables (Dask's distributed.Variable)

extension SchedulerState {
    /// The last value set wins; every request waiting for the name is answered with it.
    mutating func setVariable(_ name: String, to value: Payload, into actions: inout [Action]) {
        variables[name] = value
        for waiting in variableRequests.removeValue(forKey: name) ?? [] {
            actions.append(.notify(waiting.client, .variable(request: waiting.request, name: name, value)))
        }
    }

    /// Answered at once when the name is set, else when it is.
    mutating func requestVariable(_ name: String, by client: ClientID, request: UInt64, into actions: inout [Action]) {
        if let value = variables[name] {
            actions.append(.notify(client, .variable(request: request, name: name, value)))
        } else {
            variableRequests[name, default: []].append((client, request))
        }
    }

    /// A departed client's requests wait no more.
    mutating func forgetVariableRequests(of client: ClientID) {
        for name in Array(variableRequests.keys) {
            variableRequests[name]?.removeAll { $0.client == client }
            if variableRequests[name]?.isEmpty == true { variableRequests[name] = nil }
        }
    }
}
