import DroverCore
import DroverScheduler
import Testing

/// `client.restart()`: every client's futures err, every task is forgotten, and every worker with
/// a nanny is killed by it (the nanny starts a fresh one).
@Suite struct SchedulerStateRestartTests {
    @Test func aRestartErrsEveryWantedKeyForgetsEveryTaskAndKillsSupervisedWorkers() {
        var harness = Harness()
        _ = harness.handle(.workerJoined("w1", address: "tcp://w1", threads: 1, memoryLimit: 0, nanny: "nanny:1"))
        _ = harness.join("w2")  // no nanny
        // "done" is in memory on w1; "a" runs and "b" waits for it; another client wants "done" too.
        _ = harness.submit([task("done")], wants: ["done"], allowed: ["done": ["w1"]])
        _ = harness.handle(.taskFinished("done", worker: "w1", nbytes: 8, duration: 0.1))
        _ = harness.submit([task("a"), task("b", "a")], wants: ["b"])
        _ = harness.submit([], wants: ["done"], client: "c2")

        let actions = harness.handle(.restartRequested("c2"))

        let erred = actions.compactMap { action -> (ClientID, TaskKey, TaskError)? in
            if case .notify(let client, .erred(let key, let error)) = action { (client, key, error) } else { nil }
        }
        #expect(erred.map { "\($0.0) \($0.1)" }.sorted() == ["c1 b", "c1 done", "c2 done"])
        for (_, _, error) in erred {
            #expect(error.kind == .workerDied)
            #expect(error.message.contains("the cluster was restarted (client.restart() by c2)"))
        }
        #expect(harness.state.tasks.isEmpty)
        #expect(harness.state.clients.isEmpty)
        #expect(actions.contains(.free("w1", ["done"])))
        #expect(
            actions.contains(
                .killWorker("w1", address: "tcp://w1", nanny: "nanny:1", reason: "restart requested by client c2")))
        #expect(!actions.contains { if case .killWorker("w2", _, _, _) = $0 { true } else { false } })

        // The killed worker's exit finds nothing to reschedule, and new work runs as before.
        let exit = harness.handle(.workerExited("w1", address: "tcp://w1", cause: "killed by its nanny"))
        #expect(!exit.contains { if case .notify = $0 { true } else { false } })
        let next = harness.submit([task("again")], wants: ["again"])
        #expect(computes(next).map(\.1) == ["again"])
    }
}
