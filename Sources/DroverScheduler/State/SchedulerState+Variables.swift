import DroverCore

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

    /// A departed client's requests wait no more, for variables or queues.
    mutating func forgetVariableRequests(of client: ClientID) {
        for name in Array(variableRequests.keys) {
            variableRequests[name]?.removeAll { $0.client == client }
            if variableRequests[name]?.isEmpty == true { variableRequests[name] = nil }
        }
        for name in Array(queueRequests.keys) {
            queueRequests[name]?.removeAll { $0.client == client }
            if queueRequests[name]?.isEmpty == true { queueRequests[name] = nil }
        }
        for name in Array(eventWaiters.keys) {
            eventWaiters[name]?.removeAll { $0.client == client }
            if eventWaiters[name]?.isEmpty == true { eventWaiters[name] = nil }
        }
    }

    // MARK: - Events (Dask's distributed.Event)

    /// Setting answers every waiter; clearing makes later waits wait.
    mutating func updateEvent(_ name: String, isSet: Bool, into actions: inout [Action]) {
        guard isSet else {
            setEvents.remove(name)
            return
        }
        setEvents.insert(name)
        for waiting in eventWaiters.removeValue(forKey: name) ?? [] {
            actions.append(.notify(waiting.client, .variable(request: waiting.request, name: name, Self.granted)))
        }
    }

    /// Answered with `true` once the event is set; with `immediate`, at once with whether it is.
    mutating func waitForEvent(
        _ name: String, by client: ClientID, request: UInt64, immediate: Bool, into actions: inout [Action]
    ) {
        if setEvents.contains(name) {
            actions.append(.notify(client, .variable(request: request, name: name, Self.granted)))
        } else if immediate {
            actions.append(.notify(client, .variable(request: request, name: name, Self.notSet)))
        } else {
            eventWaiters[name, default: []].append((client, request))
        }
    }

    // MARK: - Queues (Dask's distributed.Queue)

    /// The oldest waiting request takes the value at once; else it joins the queue.
    mutating func put(_ value: Payload, onQueue name: String, into actions: inout [Action]) {
        if var waiting = queueRequests[name], !waiting.isEmpty {
            let first = waiting.removeFirst()
            queueRequests[name] = waiting.isEmpty ? nil : waiting
            actions.append(.notify(first.client, .variable(request: first.request, name: name, value)))
        } else {
            queues[name, default: []].append(value)
        }
    }

    /// Answered with the oldest value at once when there is one, else when one is put.
    mutating func requestFromQueue(_ name: String, by client: ClientID, request: UInt64, into actions: inout [Action]) {
        if var values = queues[name], !values.isEmpty {
            let value = values.removeFirst()
            queues[name] = values.isEmpty ? nil : values
            actions.append(.notify(client, .variable(request: request, name: name, value)))
        } else {
            queueRequests[name, default: []].append((client, request))
        }
    }
}
