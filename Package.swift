// swift-tools-version:6.0
import PackageDescription

// SIMD + FMA code generation for the kernels. Without it `addingProduct` lowers to scalar fmaf calls.
// The Python extension checks the CPU at import time, so an x86-64 CPU without AVX2/FMA gets an
// ImportError instead of SIGILL. Other architectures build the portable SIMD path.
//
// SWIFTRNN_PORTABLE=1 in the environment builds the portable path on x86-64 too: no AVX2, FMA or AVX-512
// code (`simd_level()` "portable"), for an x86-64 CPU without AVX2/FMA. It is the code aarch64 compiles,
// so CI builds and tests it here (each FMA is then an fmaf call: slow, and the same bits).
let portable = Context.environment["SWIFTRNN_PORTABLE"].map { !$0.isEmpty && $0 != "0" } ?? false
#if arch(x86_64)
let x86Kernels = !portable
#else
let x86Kernels = false
#endif
// The sources test this one condition (`#if SWIFTRNN_X86_KERNELS`) rather than restating the rule above.
let kernelDefine: [SwiftSetting] = x86Kernels ? [.define("SWIFTRNN_X86_KERNELS")] : []
let simdFlags: [SwiftSetting]
let cKernelFlags: [CSetting]
let kernelTargets: [Target]
let kernelDependencies: [Target.Dependency]
if x86Kernels {
    simdFlags = [.unsafeFlags(["-Xcc", "-mavx2", "-Xcc", "-mfma", "-Ounchecked"])] + kernelDefine
    cKernelFlags = [.unsafeFlags(["-mavx2", "-mfma", "-O2"])]
    // The AVX-512 GEMM micro-kernels (target SwiftRNNAVX512) only: SwiftRNN calls them after a runtime
    // CPU check (CSwiftRNNCPU), so no AVX-512 instruction runs on an AVX2-only CPU.
    let avx512Flags: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-mavx512f", "-Xcc", "-mavx512vl", "-Xcc", "-mavx512bw",
                                                     "-Xcc", "-mavx512dq", "-Xcc", "-mavx2", "-Xcc", "-mfma", "-Ounchecked"])]
    kernelTargets = [
        .target(name: "CSwiftRNNCPU"),
        .target(name: "SwiftRNNAVX512", dependencies: ["SwiftRNNVectorMath"], swiftSettings: avx512Flags),
    ]
    kernelDependencies = ["SwiftRNNVectorMath", "CSwiftRNNCPU", "SwiftRNNAVX512"]
} else {
    simdFlags = [.unsafeFlags(["-Ounchecked"])]
    cKernelFlags = [.unsafeFlags(["-O2"])]
    kernelTargets = []
    kernelDependencies = ["SwiftRNNVectorMath"]
}

let package = Package(
    name: "swiftrnn",
    products: [
        // The Swift API: Embedding, RNN, Linear, Tensor, the kernels and the generator.
        .library(name: "SwiftRNN", targets: ["SwiftRNN"]),
        // The C ABI that the CPython extension links against (declared in Sources/CSwiftRNN/include/swiftrnn.h).
        .library(name: "swiftrnn_capi", type: .dynamic, targets: ["SwiftRNNCAPI"]),
        // `swift run -c release SwiftRNNBench`: GFLOP/s of the core's kernels.
        .executable(name: "SwiftRNNBench", targets: ["SwiftRNNBench"]),
    ],
    targets: [
        .target(name: "SwiftRNN", dependencies: kernelDependencies + ["CSwiftRNNMath"], swiftSettings: simdFlags),
        // Vector code that Swift SIMD lowers poorly: inline functions in the header, and the few-rows GEMM loop
        // (fewrows.c), optimised in every configuration (a debug `swift test` runs it too).
        .target(name: "CSwiftRNNMath", cSettings: cKernelFlags),
        .target(name: "CSwiftRNN"),
        // Lane-wise tanh/relu/exp, generic over the vector width: each kernel module specialises it. Compiled
        // for SIMD + FMA too: whatever the optimizer leaves out of line runs from here (once baseline x86-64,
        // with scalar fmaf calls for every FMA: the cross-entropy's row tails ran there).
        .target(name: "SwiftRNNVectorMath", swiftSettings: simdFlags),
        .target(name: "SwiftRNNCAPI", dependencies: ["SwiftRNN", "CSwiftRNN"], swiftSettings: simdFlags),
        .executableTarget(name: "SwiftRNNBench", dependencies: ["SwiftRNN"] + kernelDependencies, swiftSettings: simdFlags),
        .testTarget(name: "SwiftRNNTests", dependencies: ["SwiftRNN", "SwiftRNNCAPI", "CSwiftRNN"] + kernelDependencies,
                    swiftSettings: kernelDefine),
    ] + kernelTargets
)
