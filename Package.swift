// swift-tools-version:6.0
import PackageDescription

// SIMD + FMA code generation for the kernels. Without it `addingProduct` lowers to scalar fmaf calls.
// The Python extension checks the CPU at import time, so an x86-64 CPU without AVX2/FMA gets an
// ImportError instead of SIGILL. Other architectures build the portable SIMD path.
#if arch(x86_64)
let simdFlags: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-mavx2", "-Xcc", "-mfma", "-Ounchecked"])]
#else
let simdFlags: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"])]
#endif

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
        .target(name: "SwiftRNN", swiftSettings: simdFlags),
        .target(name: "CSwiftRNN"),
        .target(name: "SwiftRNNCAPI", dependencies: ["SwiftRNN", "CSwiftRNN"], swiftSettings: simdFlags),
        .executableTarget(name: "SwiftRNNBench", dependencies: ["SwiftRNN"], swiftSettings: simdFlags),
        .testTarget(name: "SwiftRNNTests", dependencies: ["SwiftRNN", "SwiftRNNCAPI", "CSwiftRNN"]),
    ]
)
