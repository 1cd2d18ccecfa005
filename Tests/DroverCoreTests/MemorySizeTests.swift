import DroverCore
import Testing

@Suite struct MemorySizeTests {
    static let sizes: [(String, Int64)] = [
        ("4GiB", 4 << 30), ("500MB", 500_000_000), ("1e9", 1_000_000_000), ("1000000", 1_000_000),
        ("100 B", 100), (" 1.5 GiB ", 1536 << 20), ("512kib", 512 << 10), ("2Mi", 2 << 20), ("3k", 3000),
        ("0", 0), ("1e9B", 1_000_000_000), ("0.5", 0), ("1 TB", 1_000_000_000_000),
    ]

    @Test(arguments: sizes)
    func parsesDaskSizes(text: String, bytes: Int64) throws {
        #expect(try MemorySize.parse(text) == bytes)
    }

    @Test(arguments: ["", "GiB", "4 bananas", "5e", "inf", "nan", "1e30", "-1GiB", "4GiB4"])
    func rejectsWhatIsNotASize(text: String) {
        #expect {
            try MemorySize.parse(text)
        } throws: { error in
            let message = (error as? MemorySizeError)?.description ?? ""
            return message.contains("'\(text)'")
        }
    }

    @Test func garbageMessageGivesExamples() {
        #expect(throws: MemorySizeError("'4 bananas' is not a memory size (examples: 4GiB, 500MB, 1e9, 1000000).")) {
            try MemorySize.parse("4 bananas")
        }
    }

    static let formatted: [(Int64, String)] = [
        (300 << 20, "300 MiB"), (1 << 30, "1 GiB"), (1536 << 20, "1.5 GiB"), (512 << 10, "512 KiB"),
        (100, "100 B"), (0, "0 B"), (1023, "1023 B"), (1024, "1 KiB"), (1_048_575, "1 MiB"),
        (25_276_063_744, "23.5 GiB"), (-2_097_152, "-2 MiB"), (Int64.max, "8 EiB"), (1_000_000_000, "953.7 MiB"),
    ]

    @Test(arguments: formatted)
    func formatsInBinaryUnitsWithOneDecimal(bytes: Int64, text: String) {
        #expect(MemorySize.format(bytes) == text)
    }
}

@Suite struct MemoryLimitTests {
    static let limits: [(String, MemoryLimit)] = [
        ("4GiB", .bytes(4 << 30)), ("500MB", .bytes(500_000_000)), ("1e9", .bytes(1_000_000_000)),
        ("0.25", .fraction(0.25)), ("1", .fraction(1)), ("1B", .bytes(1)), ("2", .bytes(2)), ("auto", .auto),
        ("AUTO", .auto), ("0", .unlimited), ("none", .unlimited), ("0GiB", .unlimited), (" 0.5 ", .fraction(0.5)),
    ]

    @Test(arguments: limits)
    func parsesDaskLimits(text: String, limit: MemoryLimit) throws {
        #expect(try MemoryLimit.parse(text) == limit)
    }

    @Test(arguments: ["-1", "-0.5", "-4GiB", "lots", "", "4 GiBs", "1e30"])
    func rejectedLimitsNameTheTextAndGiveExamples(text: String) {
        #expect {
            try MemoryLimit.parse(text)
        } throws: { error in
            let message = (error as? MemorySizeError)?.description ?? ""
            return message.contains("'\(text)'") && message.contains("examples: 4GiB")
        }
    }

    @Test func resolvesAgainstTheHost() throws {
        let host: Int64 = 16 << 30
        #expect(try MemoryLimit.auto.resolve(hostLimit: host, workers: 4) == 4 << 30)
        #expect(try MemoryLimit.fraction(0.25).resolve(hostLimit: host, workers: 4) == 4 << 30)
        #expect(try MemoryLimit.fraction(1).resolve(hostLimit: host, workers: 1) == host)
        #expect(try MemoryLimit.bytes(300 << 20).resolve(hostLimit: host, workers: 8) == 300 << 20)
        #expect(try MemoryLimit.bytes(host).resolve(hostLimit: host, workers: 1) == host)
        #expect(try MemoryLimit.unlimited.resolve(hostLimit: host, workers: 2) == nil)
    }

    @Test func aLimitAboveTheHostIsAnError() {
        let expected = MemorySizeError(
            "--memory-limit 64 GiB exceeds this host's limit of 23.5 GiB; use a smaller size, a fraction such as 0.5, "
                + "or auto.")
        #expect(throws: expected) {
            try MemoryLimit.bytes(64 << 30).resolve(hostLimit: 24_683_656 << 10, workers: 1)
        }
    }

    @Test func aFractionOfLessThanAByteIsAnError() {
        #expect(throws: MemorySizeError.self) {
            try MemoryLimit.fraction(1e-12).resolve(hostLimit: 1 << 20, workers: 1)
        }
    }

    @Test func describesItself() {
        #expect(MemoryLimit.bytes(4 << 30).description == "4 GiB")
        #expect(MemoryLimit.fraction(0.25).description == "25% of the host")
        #expect(MemoryLimit.fraction(0.125).description == "12.5% of the host")
        #expect(MemoryLimit.auto.description == "auto")
        #expect(MemoryLimit.unlimited.description == "unlimited")
    }
}
