// swift-tools-version:6.0
// A Swift program using the SwiftRNN library: `swift run --package-path Examples/SwiftUsage`.
// A package of its own (depending on the repository by path), so the library's `swift build` /
// `swift test` do not build it.
import PackageDescription

let package = Package(
    name: "SwiftUsage",
    dependencies: [.package(name: "swiftrnn", path: "../..")],
    targets: [
        .executableTarget(name: "SwiftUsage", dependencies: [.product(name: "SwiftRNN", package: "swiftrnn")]),
    ]
)
