import DroverCore
import Testing

@testable import DroverLocal

/// The decision `Drover.exitWithParent()` makes from the recorded and the current parent pid.
@Suite struct ExitWithParentDecisionTests {
    @Test func theParentThatStartedItIsStillThere() {
        #expect(Drover.isChild(of: 4242, parent: 4242))
    }

    @Test func anOrphanAdoptedByASubreaperIsNoLongerAChild() {
        // A container's init or a service manager, not pid 1, adopts it.
        #expect(!Drover.isChild(of: 4242, parent: 77))
        #expect(!Drover.isChild(of: 4242, parent: 1))
    }

    @Test func withoutARecordedParentOnlyPidOneMeansOrphaned() {
        #expect(Drover.isChild(of: nil, parent: 77))
        #expect(!Drover.isChild(of: nil, parent: 1))
    }

    @Test func aParentThatRecordedPidOneIsHonoured() {
        // Started by pid 1 itself (an init that sets the variable): still its child.
        #expect(Drover.isChild(of: 1, parent: 1))
    }
}
