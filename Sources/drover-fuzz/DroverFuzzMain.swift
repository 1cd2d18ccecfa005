// Drover's fuzz targets as one binary, in two builds:
// - `swift build` makes a seeded runner: `drover-fuzz <decode|worker|scheduler> [seconds] [--seed S]`;
// - `scripts/fuzz` builds it with `--sanitize=fuzzer -DDROVER_LIBFUZZER`: libFuzzer supplies `main`
//   and calls `LLVMFuzzerTestOneInput`, the target named by `DROVER_FUZZ_TARGET`.
import DroverFuzzing

// No top-level code (the file is parsed as a library in both builds, inactive `#if` branches
// included): the seeded runner's `main` is an `@main` type that the libFuzzer build leaves out.
#if !DROVER_LIBFUZZER
    @main
    enum DroverFuzzMain {
        static func main() {
            SeededRunner.main(Array(CommandLine.arguments.dropFirst()))
        }
    }
#endif

/// libFuzzer's entry point: one input to the target `DROVER_FUZZ_TARGET` names (default `decode`).
/// A finding traps, so that libFuzzer saves the input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafeRawPointer, _ size: Int) -> CInt {
    let bytes = [UInt8](UnsafeRawBufferPointer(start: data, count: size))
    do {
        try LibFuzzerTarget.current.run(bytes)
    } catch {
        fatalError("\(error)")
    }
    return 0
}
