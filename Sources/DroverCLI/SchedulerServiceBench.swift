import ArgumentParser
import DroverClient
import DroverCore
import DroverLocal
import DroverProto
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Glibc

/// `drover bench scheduler --grpc`: a real scheduler process, over gRPC, with simulated workers in
/// this process that answer every compute command at once (RSDS's "zero worker").
enum SchedulerServiceBench {
    /// Tasks per second of `map` + `wait` of `tasks` no-ops on a `drover scheduler` with `workers`
    /// simulated workers of one thread each.
    /// `executable` runs the scheduler (by default this program), so that another build's scheduler
    /// can be measured with the same workers and client.
    static func run(tasks: Int, workers: Int, executable: String? = nil) async throws -> Double {
        let scheduler = try ListeningProcess.launch(
            executable ?? ProcessPool.currentExecutablePath,
            arguments: ["scheduler", "--port", "0", "--log-level", "warning"])
        defer {
            kill(scheduler.pid, SIGTERM)
            _ = Spawn.wait(scheduler.pid)
        }
        let address = try await scheduler.listeningAddress()
        guard let endpoint = HostAndPort(address) else { throw ValidationError("scheduler address \(address)") }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<workers {
                group.addTask { try await simulateWorker(index, scheduler: endpoint) }
            }
            defer { group.cancelAll() }
            let client = try await Client.connect(address, setAsDefault: false)
            try await client.waitForWorkers(workers)
            let inputs = Array(0..<tasks)
            // One warm-up round, so that the scheduler knows the function is quick.
            try await client.wait(try client.map(Builtins.noop, Array(0..<1000), pure: false))
            let start = ContinuousClock.now
            let futures = try client.map(Builtins.noop, inputs, pure: false)
            try await client.wait(futures)
            let elapsed = ContinuousClock.now - start
            await client.close()
            return Double(tasks) / elapsed.inSeconds
        }
    }

    /// One worker: registers, then reports each task it is given as finished in the same batch it
    /// came in, with a small result inline (as a real worker does for a no-op).
    private static func simulateWorker(_ index: Int, scheduler: HostAndPort) async throws {
        let events = BatchingQueue<Drover_V1_WorkerEvent>()
        var registration = Drover_V1_RegisterWorker()
        registration.id = "zero-\(index)"
        registration.address = "127.0.0.1:\(40_000 + index)"
        registration.threads = 1
        registration.memoryLimit = 1 << 32
        registration.functions = [Builtins.noop.name]
        var register = Drover_V1_WorkerEvent()
        register.register = registration
        events.send(register)
        var payload = Drover_V1_Payload()
        payload.encoding = .raw
        payload.data = Data(count: 8)
        payload.typeName = "Int"
        let result = payload
        try await withGRPCClient(transport: try Transports.makeClient(to: scheduler, security: .insecurePlaintext)) {
            grpc in
            try await Drover_V1_Scheduler.Client(wrapping: grpc).workerStream(
                options: TransportLimits.callOptions,
                requestProducer: { writer in
                    for await batch in events {
                        for part in batch.batches() {
                            var message = Drover_V1_WorkerEvents()
                            message.events = Array(part)
                            try await writer.write(message)
                        }
                    }
                },
                onResponse: { response in
                    for try await batch in response.messages {
                        var answers: [Drover_V1_WorkerEvent] = []
                        for command in batch.commands {
                            switch command.kind {
                            case .compute(let compute):
                                var finished = Drover_V1_TaskFinished()
                                finished.key = compute.spec.key
                                finished.nbytes = 8
                                finished.typeName = "Int"
                                finished.inline = result
                                var event = Drover_V1_WorkerEvent()
                                event.finished = finished
                                answers.append(event)
                            case .steal(let steal):
                                // Finished already: it came before this request.
                                var answer = Drover_V1_StealAnswer()
                                answer.key = steal.key
                                answer.started = true
                                var event = Drover_V1_WorkerEvent()
                                event.stealAnswer = answer
                                answers.append(event)
                            case .free, .close, .replicate, nil:
                                continue
                            }
                        }
                        events.send(contentsOf: answers)
                    }
                    events.finish()
                }
            )
        }
    }
}
