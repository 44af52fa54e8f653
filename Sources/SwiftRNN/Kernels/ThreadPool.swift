import Synchronization

private let threadCount = Atomic<Int>(1)

/// Sets how many threads the kernels may use (values below 1 are taken as 1). Process-wide.
public func setNumThreads(_ n: Int) { threadCount.store(max(1, n), ordering: .relaxed) }

/// How many threads the kernels may use.
public func getNumThreads() -> Int { threadCount.load(ordering: .relaxed) }
