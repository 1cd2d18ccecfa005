// Drover's fuzz targets as one binary, in two builds:
// - `swift build` makes a seeded runner: `drover-fuzz <decode|worker|scheduler> [seconds] [--seed S]`;
// - `scripts/fuzz` builds it with `--sanitize=fuzzer -DDROVER_LIBFUZZER`: libFuzzer supplies `main`
//   and calls `LLVMFuzzerTestOneInput`, the target named by `DROVER_FUZZ_TARGET`.
import DroverFuzzing

#if DROVER_LIBFUZZER
    // libFuzzer's main runs; nothing at the top level.
#else
    SeededRunner.main(Array(CommandLine.arguments.dropFirst()))
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
