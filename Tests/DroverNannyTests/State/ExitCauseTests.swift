import DroverNanny
import Testing

@Suite struct ExitCauseTests {
    static let limit: Int64 = 300 << 20

    /// A raw `waitpid` status for a normal exit.
    static func exitStatus(_ code: Int32) -> Int32 { code << 8 }

    @Test func describesEachCause() {
        #expect(ExitCause.exited(code: 1).description == "exited with code 1")
        #expect(ExitCause.exited(code: 0).description == "exited with code 0")
        #expect(ExitCause.signaled(9).description == "killed by signal 9 (SIGKILL)")
        #expect(ExitCause.signaled(11).description == "killed by signal 11 (SIGSEGV)")
        #expect(ExitCause.signaled(15).description == "killed by signal 15 (SIGTERM)")
        #expect(ExitCause.signaled(6).description == "killed by signal 6 (SIGABRT)")
        #expect(ExitCause.signaled(64).description == "killed by signal 64")
        #expect(
            ExitCause.oomKilled(limit: Self.limit, peak: Self.limit).description
                == "OOM-killed at its 300 MiB limit (peak 300 MiB)")
        #expect(ExitCause.oomKilled(limit: Self.limit, peak: nil).description == "OOM-killed at its 300 MiB limit")
        #expect(
            ExitCause.terminatedByNanny(rss: 290 << 20, limit: Self.limit).description
                == "terminated by its nanny at 95% of its 300 MiB limit (RSS 290 MiB)")
    }

    @Test(arguments: [
        (Int32(0), ExitCause.exited(code: 0)), (1 << 8, .exited(code: 1)), (255 << 8, .exited(code: 255)),
        (9, .signaled(9)), (15, .signaled(15)), (11 | 0x80, .signaled(11)),
    ])
    func classifiesByStatusWhenTheOOMCounterStayed(status: Int32, cause: ExitCause) {
        let classified = ExitCause.classify(
            status: status, oomKillsBefore: 2, oomKillsAfter: 2, limit: Self.limit, peak: 10)
        #expect(classified == cause)
    }

    @Test(arguments: [Int32(9), 15, 1 << 8, 0])
    func aRiseInTheOOMCounterMeansOOMWhateverTheStatus(status: Int32) {
        let classified = ExitCause.classify(
            status: status, oomKillsBefore: 0, oomKillsAfter: 1, limit: Self.limit, peak: Self.limit - 4096)
        #expect(classified == .oomKilled(limit: Self.limit, peak: Self.limit - 4096))
    }

    @Test func aSIGKILLWithoutAnOOMKillIsASignal() {
        let classified = ExitCause.classify(
            status: 9, oomKillsBefore: 3, oomKillsAfter: 3, limit: Self.limit, peak: nil)
        #expect(classified == .signaled(9))
        #expect(classified.description == "killed by signal 9 (SIGKILL)")
    }

    @Test func theStatusOfANormalExitCarriesItsCode() {
        let classified = ExitCause.classify(
            status: Self.exitStatus(3), oomKillsBefore: 0, oomKillsAfter: 0, limit: Self.limit, peak: nil)
        #expect(classified == .exited(code: 3))
    }
}
