import DroverCore
import DroverProto
import SwiftProtobuf
import Testing

@testable import DroverClient

/// What the client sends the scheduler: releases dropped together travel as one, and never move
/// past another event.
@Suite struct ClientMessagesTests {
    static func release(_ keys: [String]) -> Drover_V1_ClientEvent {
        .with { $0.release = .with { $0.keys = keys } }
    }

    static func submit(_ key: String) -> Drover_V1_ClientEvent {
        .with { $0.submit = .with { $0.wants = [key] } }
    }

    @Test func neighbouringReleasesMergeAndNothingMovesPastASubmission() {
        let events: [Drover_V1_ClientEvent] = [
            Self.release(["a"]), Self.release(["b", "c"]), Self.submit("a"), Self.release(["a"]),
            Self.release(["d"]), Self.submit("e"),
        ]
        let merged = Client.mergingReleases(events[...])
        #expect(
            merged == [
                Self.release(["a", "b", "c"]), Self.submit("a"), Self.release(["a", "d"]), Self.submit("e"),
            ])
        #expect(Client.mergingReleases([][...]).isEmpty)
        #expect(Client.mergingReleases([Self.submit("x")][...]) == [Self.submit("x")])
    }

    @Test func aMergedReleaseHoldsAtMostItsLimitOfKeys() {
        let limit = Client.releaseKeysPerEvent
        let events = (0..<(limit + 10)).map { Self.release(["k\($0)"]) }
        let merged = Client.mergingReleases(events[...])
        #expect(merged.count == 2)
        guard case .release(let first) = merged.first?.kind, case .release(let second) = merged.last?.kind else {
            Issue.record("not two releases: \(merged)")
            return
        }
        #expect(first.keys.count == limit)
        #expect(first.keys + second.keys == (0..<(limit + 10)).map { "k\($0)" })

        // Long keys: cut by bytes, about a message's worth each.
        let long = (0..<200).map { Self.release([String(repeating: "x", count: 4000) + "\($0)"]) }
        let cut = Client.mergingReleases(long[...])
        #expect(cut.count > 1)
        #expect(cut.allSatisfy { $0.estimatedBytes <= Client.messageBytes })
        #expect(
            cut.flatMap { event -> [String] in
                guard case .release(let release) = event.kind else { return [] }
                return release.keys
            }
                == long.flatMap { event -> [String] in
                    guard case .release(let release) = event.kind else { return [] }
                    return release.keys
                })
    }
}

/// How a submission is cut into messages (`Client.submissionParts`).
@Suite struct SubmissionPartsTests {
    static func spec(_ key: String, needs: [String] = []) -> Drover_V1_TaskSpec {
        .with {
            $0.key = key
            $0.function = "f"
            $0.arguments = needs.map { need in .with { $0.key = need } }
        }
    }

    @Test func aMapGoesInPartsEachWantingItsOwnTasks() {
        let count = 2 * Client.submissionPartTasks + 5
        let specs = (0..<count).map { Self.spec("t\($0)") }
        let parts = Client.submissionParts(
            specs, wants: specs.map { TaskKey($0.key) }, workers: ["w"], priority: 3, retries: 2)
        #expect(parts.map(\.tasks.count) == [Client.submissionPartTasks, Client.submissionPartTasks, 5])
        #expect(parts.flatMap { $0.tasks.map(\.spec.key) } == specs.map(\.key))
        for part in parts {
            #expect(part.wants == part.tasks.map(\.spec.key))
            #expect(part.tasks.allSatisfy { $0.allowedWorkers == ["w"] && $0.priority == 3 && $0.retries == 2 })
        }
    }

    /// A task only a later part would want could be forgotten before that part came: a graph
    /// with inner tasks goes whole, and only the wanted ones carry the options.
    @Test func aGraphWithInnerTasksGoesWhole() {
        let count = Client.submissionPartTasks + 10
        var specs = (0..<count).map { Self.spec("leaf\($0)") }
        specs.append(Self.spec("sum", needs: specs.map(\.key)))
        let parts = Client.submissionParts(specs, wants: ["sum"], workers: ["w"], priority: 1, retries: 0)
        #expect(parts.count == 1)
        #expect(parts.first?.tasks.count == count + 1)
        #expect(parts.first?.wants == ["sum"])
        #expect(parts.first?.tasks.filter { !$0.allowedWorkers.isEmpty }.map(\.spec.key) == ["sum"])
        #expect(Client.submissionParts([], wants: [], workers: [], priority: 0, retries: 0).isEmpty)
    }
}
