import DroverCore
import DroverProto
import DroverScheduler
import DroverWorker
import Foundation
import SwiftProtobuf

/// Bytes from the network, decoded as every `drover.v1` message a Drover process accepts and
/// pushed through the conversions its shell applies.
///
/// Covered: the scheduler's `WorkerEvents`, `ClientEvents`, `WorkerExitReport` and
/// `IdentityRequest`; the worker's `GetDataRequest`, `DataChunks` (PutData, and GetData's answer
/// on the fetching side) and `WorkerCommands` (from the scheduler); the nanny's
/// `NannyStatusRequest`; the processes scheduler's `ExecuteRequest` (child) and `ExecuteResponse`
/// (parent) frames; the client's `ClientUpdates`. A message that decodes becomes the domain values
/// and events the shells make of it (``TaskSpec``, ``ArgumentSpec``, ``ArgumentValue``,
/// ``Payload``, ``TaskError``, `DataChunks.Assembler`), every payload is decoded as the common
/// task value types, worker commands are fed to a `WorkerState` and worker events to a
/// `SchedulerState`, invariants checked. Errors are expected; a trap or a broken invariant is a
/// finding.
public enum MessageFuzzing {
    /// The target's name.
    public static let target = "decode"

    /// The messages tried, by proto name.
    public static let messageNames: [String] = decoders.map(\.name)

    private static let decoders: [(name: String, decode: @Sendable ([UInt8]) throws -> Void)] = [
        (Drover_V1_WorkerEvents.protoMessageName, { try workerEvents(Drover_V1_WorkerEvents(serializedBytes: $0)) }),
        (Drover_V1_ClientEvents.protoMessageName, { try clientEvents(Drover_V1_ClientEvents(serializedBytes: $0)) }),
        (
            Drover_V1_WorkerExitReport.protoMessageName,
            { try exitReport(Drover_V1_WorkerExitReport(serializedBytes: $0)) }
        ),
        (Drover_V1_IdentityRequest.protoMessageName, { _ = try Drover_V1_IdentityRequest(serializedBytes: $0) }),
        (
            Drover_V1_GetDataRequest.protoMessageName,
            { _ = try Drover_V1_GetDataRequest(serializedBytes: $0).keys.map { TaskKey($0) } }
        ),
        (Drover_V1_DataChunks.protoMessageName, { try dataChunks(Drover_V1_DataChunks(serializedBytes: $0)) }),
        (
            Drover_V1_WorkerCommands.protoMessageName,
            { try workerCommands(Drover_V1_WorkerCommands(serializedBytes: $0)) }
        ),
        (Drover_V1_NannyStatusRequest.protoMessageName, { _ = try Drover_V1_NannyStatusRequest(serializedBytes: $0) }),
        (
            Drover_V1_ExecuteRequest.protoMessageName,
            { try executeRequest(Drover_V1_ExecuteRequest(serializedBytes: $0)) }
        ),
        (
            Drover_V1_ExecuteResponse.protoMessageName,
            { try executeResponse(Drover_V1_ExecuteResponse(serializedBytes: $0)) }
        ),
        (
            Drover_V1_ClientUpdates.protoMessageName,
            { try clientUpdates(Drover_V1_ClientUpdates(serializedBytes: $0)) }
        ),
    ]

    /// Decodes `bytes` as every message and converts what decodes.
    ///
    /// - Returns: how many of the messages decoded.
    /// - Throws: ``FuzzFinding`` when a state fed the decoded events breaks an invariant.
    @discardableResult
    public static func run(_ bytes: [UInt8]) throws(FuzzFinding) -> Int {
        var decoded = 0
        for decoder in decoders {
            do {
                try decoder.decode(bytes)
                decoded += 1
            } catch let finding as FuzzFinding {
                throw finding
            } catch {
                continue  // malformed for this message or not convertible: refused, as the shells do
            }
        }
        return decoded
    }
}

// MARK: - Scheduler

extension MessageFuzzing {
    static let sender: WorkerID = "w-fuzz"

    /// As `SchedulerService.workerSent`, fed to a state where the sender is registered.
    static func workerEvents(_ message: Drover_V1_WorkerEvents) throws(FuzzFinding) {
        var events: [SchedulerState.Event] = [
            .workerJoined(sender, address: "tcp://fuzz:1", threads: 2, memoryLimit: 1 << 30)
        ]
        for event in message.events {
            switch event.kind {
            case .register(let register):
                events.append(
                    .workerJoined(
                        WorkerID(register.id), address: register.address, threads: Int(register.threads),
                        memoryLimit: register.memoryLimit, nanny: register.nanny))
                _ = Set(register.functions)
            case .finished(let finished):
                if finished.hasInline { probe(Payload(proto: finished.inline)) }
                events.append(
                    .taskFinished(
                        TaskKey(finished.key), worker: sender, nbytes: finished.nbytes,
                        duration: finished.durationSeconds))
            case .failed(let failed):
                events.append(
                    .taskErred(TaskKey(failed.error.key), worker: sender, error: TaskError(proto: failed.error)))
            case .missing(let missing):
                events.append(
                    .dataMissing(TaskKey(missing.key), holderAddress: missing.holderAddress, reporter: sender))
            case .stealAnswer(let answer):
                events.append(.stealAnswered(TaskKey(answer.key), worker: sender, started: answer.started))
            case .heartbeat(let heartbeat):
                let transfers = WorkerRecord.Transfers(
                    incomingCount: heartbeat.incomingTransfers, incomingBytes: heartbeat.incomingTransferBytes,
                    incomingSeconds: heartbeat.incomingTransferSeconds,
                    outgoingBytes: heartbeat.outgoingTransferBytes)
                events.append(
                    .workerReported(
                        sender, memoryBytes: heartbeat.memoryBytes, managedBytes: heartbeat.managedBytes,
                        spilledBytes: heartbeat.spilledBytes, paused: heartbeat.paused,
                        executing: Int(heartbeat.executing), transfers: transfers))
            case .retiring:
                events.append(.workerRetiring(sender))
            case .started(let started):
                events.append(.tasksStarted(sender, started.keys.map { TaskKey($0) }))
            case .seceded(let seceded):
                events.append(.taskSeceded(TaskKey(seceded.key), worker: sender))
            case .acquired(let acquired):
                let sizes = zip(acquired.keys, acquired.nbytes).map { (TaskKey($0), $1) }
                events.append(.keysAcquired(sender, Dictionary(sizes, uniquingKeysWith: { first, _ in first })))
            case nil:
                continue
            }
        }
        try feed(events)
    }

    /// As `SchedulerService.clientSent`. Releases and scatters are fed to a state; submissions
    /// are only converted: today's state loops on a cycle, which the scheduler is to refuse
    /// before the state sees it (see ``SchedulerStateFuzzing``).
    static func clientEvents(_ message: Drover_V1_ClientEvents) throws(FuzzFinding) {
        var events: [SchedulerState.Event] = []
        for event in message.events {
            switch event.kind {
            case .register(let register):
                _ = ClientID(register.id)
            case .submit(let submit):
                var tasks: [SchedulerState.SubmittedTask] = []
                for task in submit.tasks {
                    guard let spec = try? TaskSpec(proto: task.spec) else { continue }
                    forEachPayload(in: spec.arguments, probe)
                    tasks.append(
                        .init(
                            spec: spec, allowedWorkers: Set(task.allowedWorkers), retries: Int(task.retries),
                            priority: Int(task.priority)))
                }
                _ = SchedulerState.Event.graphSubmitted("c-fuzz", tasks: tasks, wants: submit.wants.map { TaskKey($0) })
            case .release(let release):
                events.append(.keysReleased("c-fuzz", release.keys.map { TaskKey($0) }))
            case .restart:
                events.append(.restartRequested("c-fuzz"))
            case .shutdown:
                events.append(.shutdownRequested("c-fuzz"))
            case .setVariable(let set):
                events.append(.variableSet("c-fuzz", name: set.name, Payload(proto: set.value)))
            case .getVariable(let get):
                events.append(
                    .variableRequested(
                        "c-fuzz", name: get.name, request: get.request,
                        timeout: WaitTimeout.duration(seconds: get.timeoutSeconds)))
            case .deleteVariable(let delete):
                events.append(.variableDeleted("c-fuzz", name: delete.name))
            case .queueSize(let size):
                events.append(.queueSizeRequested("c-fuzz", name: size.name, request: size.request))
            case .queuePut(let put):
                events.append(.queuePut("c-fuzz", name: put.name, Payload(proto: put.value)))
            case .queueGet(let get):
                events.append(
                    .queueRequested(
                        "c-fuzz", name: get.name, request: get.request,
                        timeout: WaitTimeout.duration(seconds: get.timeoutSeconds)))
            case .semaphoreAcquire(let acquire):
                events.append(
                    .semaphoreAcquireRequested(
                        "c-fuzz", name: acquire.name, maxLeases: Int(acquire.maxLeases), request: acquire.request,
                        timeout: WaitTimeout.duration(seconds: acquire.timeoutSeconds)))
            case .semaphoreRelease(let release):
                events.append(.semaphoreReleased("c-fuzz", name: release.name))
            case .eventUpdate(let update):
                events.append(.eventUpdated("c-fuzz", name: update.name, isSet: update.set))
            case .eventWait(let wait):
                events.append(
                    .eventWaited(
                        "c-fuzz", name: wait.name, request: wait.request, immediate: wait.immediate,
                        timeout: WaitTimeout.duration(seconds: wait.timeoutSeconds)))
            case .scattered(let scattered):
                let values = scattered.keys.map {
                    SchedulerState.ScatteredValue(
                        key: TaskKey($0.key), nbytes: $0.nbytes, workerAddress: $0.workerAddress)
                }
                events.append(.dataScattered("c-fuzz", values))
            case nil:
                continue
            }
        }
        try feed(events)
    }

    /// As `SchedulerService.workerExited`.
    static func exitReport(_ report: Drover_V1_WorkerExitReport) throws(FuzzFinding) {
        try feed([
            .workerJoined(WorkerID(report.workerID), address: report.address, threads: 1, memoryLimit: 1 << 30),
            .workerExited(WorkerID(report.workerID), address: report.address, cause: report.cause),
        ])
    }

    private static func feed(_ events: [SchedulerState.Event]) throws(FuzzFinding) {
        var state = SchedulerState()
        for (index, event) in events.enumerated() {
            let actions = SchedulerStateFuzzing.deliver(event, to: &state)
            do {
                try SchedulerStateFuzzing.check(state, after: actions)
            } catch {
                throw FuzzFinding(
                    target: target, events: events[...index].map { "\($0)" }, message: error.description)
            }
        }
    }
}

// MARK: - Worker, nanny, processes, client

extension MessageFuzzing {
    /// As `WorkerRPCService.putData` (and `DataFetch.fetch` on the receiving side).
    static func dataChunks(_ message: Drover_V1_DataChunks) throws {
        var assembler = DataChunks.Assembler()
        for chunk in message.chunks { try assembler.add(chunk) }
        for payload in assembler.values.values { probe(payload) }
    }

    /// As `WorkerRuntime.received(_:)`, fed to a `WorkerState`.
    static func workerCommands(_ message: Drover_V1_WorkerCommands) throws(FuzzFinding) {
        var events: [WorkerState.Event] = []
        for command in message.commands {
            switch command.kind {
            case .compute(let compute):
                guard let spec = try? TaskSpec(proto: compute.spec) else { continue }
                let priority = TaskPriority(
                    user: Int(compute.priorityUser), generation: Int(compute.priorityGeneration),
                    index: Int(compute.priorityIndex))
                events.append(.computeRequested(spec, priority: priority, dependencies: holders(compute.dependencies)))
            case .free(let free):
                events.append(.freeRequested(free.keys.map { TaskKey($0) }))
            case .steal(let steal):
                events.append(.stealRequested(TaskKey(steal.key)))
            case .replicate(let replicate):
                events.append(.replicateRequested(holders(replicate.keys)))
            case .close, nil:
                continue
            }
        }
        var state = WorkerState(threads: 2, address: "self:1")
        for (index, event) in events.enumerated() {
            let actions = state.handle(event)
            do {
                try WorkerStateFuzzing.check(state, after: actions)
            } catch {
                throw FuzzFinding(target: target, events: events[...index].map { "\($0)" }, message: error.description)
            }
        }
    }

    private static func holders(_ locations: [Drover_V1_DependencyLocation]) -> [TaskKey: [String]] {
        Dictionary(locations.map { (TaskKey($0.key), $0.addresses) }, uniquingKeysWith: { first, _ in first })
    }

    /// As `TaskProcessWorker.execute` in a child process.
    static func executeRequest(_ request: Drover_V1_ExecuteRequest) throws {
        _ = TaskKey(request.key)
        let arguments = try request.arguments.map { try ArgumentValue(proto: $0) }
        for argument in arguments { probe(argument) }
    }

    /// As `ProcessPool` reading a child's answer.
    static func executeResponse(_ response: Drover_V1_ExecuteResponse) throws {
        switch response.outcome {
        case .result(let payload): probe(Payload(proto: payload))
        case .error(let error): _ = TaskError(proto: error)
        case nil: break
        }
    }

    /// As `Client` reading its stream.
    static func clientUpdates(_ message: Drover_V1_ClientUpdates) throws {
        for update in message.updates {
            switch update.kind {
            case .inMemory(let memory): if memory.hasInline { probe(Payload(proto: memory.inline)) }
            case .erred(let erred): _ = TaskError(proto: erred.error)
            case .lost(let lost): _ = TaskKey(lost.key)
            case .workers(let workers): _ = workers.addresses.count + Int(workers.threads)
            case .variable(let variable): probe(Payload(proto: variable.value))
            case nil: continue
            }
        }
    }
}
