import DroverCore
import Foundation
import Testing

@testable import DroverScheduler

/// The scheduler checks a submission as a whole before anything changes.
@Suite struct SchedulerStateSubmissionTests {
    /// The rejections in `actions`, by key.
    private func rejections(_ actions: [Action]) -> [TaskKey: TaskError] {
        var found: [TaskKey: TaskError] = [:]
        for action in actions {
            if case .notify(_, .erred(let key, let error)) = action, error.kind == .rejected { found[key] = error }
        }
        return found
    }

    /// A cluster with one worker and another client's computation under way.
    private func busyCluster() -> Harness {
        var harness = Harness()
        _ = harness.join("w1", threads: 2)
        _ = harness.submit([task("other")], wants: ["other"], client: "c0")
        return harness
    }

    @Test func aTwoTaskCycleIsRejectedAndNothingElseChanges() throws {
        var harness = busyCluster()
        let before = harness.state.tasks.count
        let actions = harness.submit([task("a", "b"), task("b", "a")], wants: ["a", "b"])
        let rejected = rejections(actions)
        #expect(Set(rejected.keys) == ["a", "b"])
        #expect(try #require(rejected["a"]).message.contains("cycle"))
        #expect(actions.count == 2)  // the two errors, nothing else
        #expect(harness.state.tasks.count == before)
        #expect(harness.state.clients["c1"] == nil)
        // The other client's task carries on.
        let done = harness.handle(.taskFinished("other", worker: "w1", nbytes: 8, duration: 0.1))
        #expect(done == [.notify("c0", .inMemory("other", nbytes: 8, holders: ["tcp://w1"]))])
    }

    @Test func aSelfDependencyIsRejected() throws {
        var harness = busyCluster()
        let rejected = rejections(harness.submit([task("me", "me")], wants: ["me"]))
        #expect(try #require(rejected["me"]).message.contains("depends on itself"))
        #expect(harness.state(of: "me") == nil)
    }

    @Test func aLongCycleAndEverythingDownstreamIsRejectedButTheRestRuns() {
        var harness = busyCluster()
        let specs = [
            task("root"), task("c1", "c3", "root"), task("c2", "c1"), task("c3", "c2"), task("after", "c3"),
            task("fine", "root"),
        ]
        let actions = harness.submit(specs, wants: ["after", "fine"])
        #expect(Set(rejections(actions).keys) == ["c1", "c2", "c3", "after"])
        #expect(harness.state(of: "root") != nil)
        #expect(harness.state(of: "fine") == .waiting)
        #expect(harness.state(of: "after") == nil)
    }

    @Test func aTaskDependingOnARejectedOneIsRejectedWithTheReason() throws {
        var harness = busyCluster()
        let actions = harness.submit([task("bad", "ghost"), task("next", "bad")], wants: ["next"])
        let rejected = rejections(actions)
        #expect(try #require(rejected["bad"]).message.contains("'ghost'"))
        #expect(try #require(rejected["next"]).message.contains("depends on 'bad', which was rejected"))
    }

    @Test func aKnownKeyWithAnotherSpecIsRejectedNamingTheKey() throws {
        var harness = busyCluster()
        let actions = harness.submit([task("other", function: "g")], wants: ["other"])
        let error = try #require(rejections(actions)["other"])
        #expect(error.message.contains("already knows the key 'other'"))
        #expect(actions.count == 1)  // the error only: not the old task's news
        #expect(harness.state.tasks["other"]?.function == "f")
        #expect(harness.state.wantedBy("other") == ["c0"])
        // The same spec again is no error: the client just wants it too.
        #expect(rejections(harness.submit([task("other")], wants: ["other"])).isEmpty)
        #expect(harness.state.wantedBy("other") == ["c0", "c1"])
    }

    @Test func twoSpecsUnderOneKeyInOneSubmissionAreRejected() {
        var harness = busyCluster()
        let actions = harness.submit([task("x"), task("x", function: "g"), task("y", "x")], wants: ["y"])
        #expect(Set(rejections(actions).keys) == ["x", "y"])
        #expect(harness.state(of: "x") == nil)
    }

    @Test func theSameSpecTwiceInOneSubmissionIsOneTask() {
        var harness = busyCluster()
        let actions = harness.submit([task("x"), task("x"), task("y", "x")], wants: ["y"])
        #expect(rejections(actions).isEmpty)
        #expect(harness.state(of: "y") == .waiting)
    }

    @Test func emptyAndOversizeKeysAndFunctionsAreRejected() throws {
        var configuration = SchedulerState.Configuration()
        configuration.maxKeyBytes = 16
        var harness = Harness(configuration: configuration)
        let long = TaskKey(String(repeating: "k", count: 17))
        let actions = harness.submit(
            [task(""), task(long), TaskSpec(key: "nofn", function: "", arguments: [])], wants: ["", long, "nofn"])
        let rejected = rejections(actions)
        #expect(try #require(rejected[""]).message.contains("key is empty"))
        #expect(try #require(rejected[long]).message.contains("over the limit of 16"))
        #expect(try #require(rejected["nofn"]).message.contains("names no function"))
        #expect(harness.state.tasks.isEmpty)
    }

    @Test func argumentsOverTheServersLimitAreRejected() throws {
        var configuration = SchedulerState.Configuration()
        configuration.maxArgumentBytes = 1000
        var harness = Harness(configuration: configuration)
        let big = Payload(encoding: .raw, data: Data(count: 600), typeName: "Data")
        let spec = TaskSpec(key: "big", function: "f", arguments: [.value(big), .list([.value(big)])])
        let small = TaskSpec(key: "small", function: "f", arguments: [.value(big)])
        let rejected = rejections(harness.submit([spec, small], wants: ["big", "small"]))
        #expect(try #require(rejected["big"]).message.contains("client.scatter"))
        #expect(rejected["small"] == nil)
        #expect(harness.state(of: "small") != nil)
    }

    @Test func aWantNamingNoTaskIsAnErrorNotAnEndlessWait() throws {
        var harness = busyCluster()
        let actions = harness.submit([task("real")], wants: ["real", "never-submitted"])
        let rejected = rejections(actions)
        #expect(try #require(rejected["never-submitted"]).message.contains("no task of the key 'never-submitted'"))
        #expect(harness.state.clients["c1"] == ["real"])
    }

    @Test func dependenciesOnHeldKeysAndOnLaterTasksOfTheSubmissionAreFine() {
        var harness = busyCluster()
        _ = harness.handle(.taskFinished("other", worker: "w1", nbytes: 8, duration: 0.1))
        // "later" comes after its dependent in the list: order within a submission is free.
        let actions = harness.submit([task("uses", "other", "later"), task("later")], wants: ["uses"])
        #expect(rejections(actions).isEmpty)
        #expect(harness.state(of: "uses") == .waiting)
    }
}
