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
