#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer's entry, for an executable whose `main` is its own: SwiftPM links every executable with
/// `main` defined as its module's entry point (`<Module>_main`), which shadows libFuzzer's `main`; the
/// entry point hands the command line and the fuzz target to libFuzzer's driver instead. (libFuzzer's
/// own `main` is still linked in, so each target also exports `LLVMFuzzerTestOneInput`, the symbol
/// it refers to.)
@_silgen_name("LLVMFuzzerRunDriver")
private func llvmFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ target: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

public enum FuzzerDriver {
    /// Runs libFuzzer with this process's arguments on `target`, and exits with its status.
    public static func run(_ target: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> Never {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(llvmFuzzerRunDriver(&argc, &argv, target))
    }
}
