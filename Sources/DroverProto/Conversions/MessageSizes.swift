/// Cheap upper-bound-ish estimates of encoded sizes, for cutting batches into messages without
/// encoding them twice.
extension Drover_V1_TaskSpec {
    /// About the encoded size: the inline argument bytes plus the names.
    public var estimatedBytes: Int {
        key.utf8.count + function.utf8.count + 16 + arguments.reduce(0) { $0 + $1.estimatedBytes }
    }
}

extension Drover_V1_Argument {
    var estimatedBytes: Int {
        switch kind {
        case .value(let payload): payload.data.count + payload.typeName.utf8.count + 8
        case .key(let key): key.utf8.count + 4
        case .list(let list): list.items.reduce(4) { $0 + $1.estimatedBytes }
        case nil: 2
        }
    }
}

extension Drover_V1_ClientEvent {
    /// About the encoded size.
    public var estimatedBytes: Int {
        switch kind {
        case .submit(let submit):
            submit.tasks.reduce(0) { $0 + $1.spec.estimatedBytes + 16 } + submit.wants.reduce(0) { $0 + $1.utf8.count }
        case .scattered(let scattered): scattered.keys.count * 96
        case .release(let release): release.keys.reduce(0) { $0 + $1.utf8.count + 2 }
        case .setVariable(let set): set.name.utf8.count + set.value.data.count + 64
        case .queuePut(let put): put.name.utf8.count + put.value.data.count + 64
        case .register, .restart, .shutdown, .getVariable, .queueGet, .semaphoreAcquire, .semaphoreRelease,
            .eventUpdate, .eventWait, .queueSize, .deleteVariable, nil:
            64
        }
    }
}

extension Drover_V1_WorkerCommand {
    /// About the encoded size.
    public var estimatedBytes: Int {
        switch kind {
        case .compute(let compute): compute.spec.estimatedBytes + compute.dependencies.count * 64 + 32
        case .free(let free): free.keys.reduce(0) { $0 + $1.utf8.count + 2 }
        case .replicate(let replicate): replicate.keys.reduce(0) { $0 + $1.key.utf8.count + 64 }
        case .steal, .close, nil: 64
        }
    }
}

extension Drover_V1_ClientUpdate {
    /// About the encoded size.
    public var estimatedBytes: Int {
        switch kind {
        case .inMemory(let inMemory):
            inMemory.key.utf8.count + inMemory.inline.data.count
                + inMemory.holders.reduce(16) { $0 + $1.utf8.count + 2 }
        case .erred(let erred): erred.key.utf8.count + erred.error.message.utf8.count + 256
        case .variable(let variable): variable.name.utf8.count + variable.value.data.count + 64
        case .workers(let workers): workers.addresses.reduce(16) { $0 + $1.utf8.count + 2 }
        case .lost(let lost): lost.key.utf8.count + 8
        case nil: 8
        }
    }
}
