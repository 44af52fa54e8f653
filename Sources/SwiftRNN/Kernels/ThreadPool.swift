// The kernels' persistent thread pool: pthreads created once (lazily, the first time more than
// one thread is asked for) and parked on a condition variable between jobs. No thread is created
// per call. A job is `count` tasks numbered 0..<count; the calling thread runs tasks too.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

private let threadCount = Atomic<Int>(1)

/// The most threads `setNumThreads` accepts; larger requests are clamped to it.
public let maxKernelThreads = 64

/// Sets how many threads the kernels may use (values below 1 are taken as 1). Process-wide.
/// Results do not depend on this setting: every output element is reduced in the same order
/// whatever the thread count.
public func setNumThreads(_ n: Int) {
    threadCount.store(min(max(1, n), maxKernelThreads), ordering: .relaxed)
}

/// How many threads the kernels may use.
public func getNumThreads() -> Int { threadCount.load(ordering: .relaxed) }

/// Runs `body(0) ... body(count - 1)`, spread over up to min(`maxThreads`, `getNumThreads()`)
/// threads (the caller included; tasks are handed out dynamically), and returns when all have
/// finished. Tasks must be independent. Runs everything on the calling thread when `count <= 1`,
/// when one thread is configured, or when the pool is already busy (a nested call, or a second
/// caller thread): callers get the same results either way.
func parallelFor(_ count: Int, maxThreads: Int = .max, _ body: (Int) -> Void) {
    let threads = min(count, maxThreads, getNumThreads())
    if threads <= 1 || !KernelThreadPool.shared.run(count: count, threads: threads, body) {
        for t in 0..<count { body(t) }
    }
}

/// The pool behind `parallelFor`: a fork-join over persistent workers.
///
/// The caller publishes a job (the closure, the task count, a fresh id in `gate`), wakes helpers
/// 0..<helpers by storing the id in their `go` slot, and takes tasks itself from an atomic counter.
/// When it runs out of tasks it closes the gate and waits only for helpers that are inside the job
/// (`active`). A helper joins by incrementing `active` and then checking that the gate still holds
/// its job's id (sequentially consistent on both sides, so either the helper sees the gate closed
/// or the caller sees the helper active). A helper that the OS has not scheduled in time therefore
/// never holds the caller up — it finds the gate closed later and goes back to waiting — which keeps
/// a busy, shared machine from turning a 2-thread call into a wait for a time slice.
/// Idle workers spin on their slot for a short while (back-to-back calls, one per RNN time step,
/// skip the wake-up), then sleep on `wake`.
final class KernelThreadPool: @unchecked Sendable {
    static let shared = KernelThreadPool()

    /// How long an idle worker (or a caller waiting for its helpers) spins before sleeping.
    private static let spinSeconds = 100e-6

    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let wake: UnsafeMutablePointer<pthread_cond_t>
    private let done: UnsafeMutablePointer<pthread_cond_t>
    /// Held by the one caller that owns the pool for a job; others run their job serially.
    private let busy: UnsafeMutablePointer<pthread_mutex_t>

    private final class Slot {
        /// The id of the last job this worker was asked to help with.
        let go = Atomic<Int>(0)
    }
    /// One per possible worker, made up front so that workers never race with the array's growth.
    private let slots: [Slot] = (0..<maxKernelThreads).map { _ in Slot() }
    /// The id of the job helpers may still join, or 0.
    private let gate = Atomic<Int>(0)
    /// Helpers inside a job.
    private let active = Atomic<Int>(0)
    private let nextTask = Atomic<Int>(0)
    // Written by the caller before it opens the gate, read by helpers that got in.
    private var job: ((Int) -> Void)?
    private var taskCount = 0
    /// The caller's job counter (under `busy`).
    private var lastJobID = 0
    // Guarded by `mutex`.
    private var workers = 0
    private var sleepers = 0
    private var callerWaiting = false

    private init() {
        mutex = .allocate(capacity: 1)
        busy = .allocate(capacity: 1)
        wake = .allocate(capacity: 1)
        done = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_mutex_init(busy, nil)
        pthread_cond_init(wake, nil)
        pthread_cond_init(done, nil)
    }

    /// Runs the job on up to `threads` threads (caller included). Returns false, having run nothing,
    /// when the pool is busy or no worker thread can be started.
    func run(count: Int, threads: Int, _ body: (Int) -> Void) -> Bool {
        guard pthread_mutex_trylock(busy) == 0 else { return false }
        defer { pthread_mutex_unlock(busy) }
        pthread_mutex_lock(mutex)
        while workers < min(threads - 1, slots.count), startWorker(index: workers) { workers += 1 }
        let helpers = min(workers, threads - 1)
        pthread_mutex_unlock(mutex)
        if helpers == 0 { return false }
        withoutActuallyEscaping(body) { body in
            lastJobID += 1
            let id = lastJobID
            job = body
            taskCount = count
            nextTask.store(0, ordering: .relaxed)
            gate.store(id, ordering: .sequentiallyConsistent)
            for i in 0..<helpers { slots[i].go.store(id, ordering: .releasing) }
            pthread_mutex_lock(mutex)
            if sleepers > 0 { pthread_cond_broadcast(wake) }
            pthread_mutex_unlock(mutex)
            takeTasks(body)
            gate.store(0, ordering: .sequentiallyConsistent)
            if !spin(until: { active.load(ordering: .sequentiallyConsistent) == 0 }) {
                pthread_mutex_lock(mutex)
                callerWaiting = true
                while active.load(ordering: .sequentiallyConsistent) != 0 { pthread_cond_wait(done, mutex) }
                callerWaiting = false
                pthread_mutex_unlock(mutex)
            }
            job = nil
        }
        return true
    }

    private func takeTasks(_ body: (Int) -> Void) {
        while true {
            let t = nextTask.wrappingAdd(1, ordering: .relaxed).oldValue
            if t >= taskCount { return }
            body(t)
        }
    }

    /// Spins until `condition` holds (true) or `spinSeconds` pass (false), yielding the CPU now and
    /// then so that a waiting thread does not starve the one it waits for.
    private func spin(until condition: () -> Bool) -> Bool {
        var deadline = 0.0
        var i = 0
        while true {
            if condition() { return true }
            i += 1
            if i & 1023 == 0 {
                let t = monotonicSeconds()
                if deadline == 0 { deadline = t + Self.spinSeconds } else if t > deadline { return false }
                sched_yield()
            }
        }
    }

    /// `seen`: the worker's `go` value when it was created (before any job could name it).
    private func workerLoop(index: Int, seen: Int) {
        let slot = slots[index]
        var seen = seen
        while true {
            if !spin(until: { slot.go.load(ordering: .acquiring) != seen }) {
                pthread_mutex_lock(mutex)
                while slot.go.load(ordering: .acquiring) == seen {
                    sleepers += 1
                    pthread_cond_wait(wake, mutex)
                    sleepers -= 1
                }
                pthread_mutex_unlock(mutex)
            }
            let id = slot.go.load(ordering: .acquiring)
            seen = id
            active.wrappingAdd(1, ordering: .sequentiallyConsistent)
            if gate.load(ordering: .sequentiallyConsistent) == id, let body = job { takeTasks(body) }
            if active.wrappingSubtract(1, ordering: .sequentiallyConsistent).newValue == 0 {
                pthread_mutex_lock(mutex)
                if callerWaiting { pthread_cond_signal(done) }
                pthread_mutex_unlock(mutex)
            }
        }
    }

    private func startWorker(index: Int) -> Bool {
        let seen = slots[index].go.load(ordering: .relaxed)
        let box = Unmanaged.passRetained(WorkerStart(pool: self, index: index, seen: seen))
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        defer { pthread_attr_destroy(&attr) }
        pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
        #if canImport(Glibc) || canImport(Musl)
        var tid = pthread_t()
        #else
        var tid: pthread_t?
        #endif
        let rc = pthread_create(&tid, &attr, { arg in
            let start = Unmanaged<WorkerStart>.fromOpaque(arg!).takeRetainedValue()
            start.pool.workerLoop(index: start.index, seen: start.seen)
            return nil
        }, box.toOpaque())
        if rc != 0 { box.release(); return false }
        return true
    }
}

/// Seconds on the monotonic clock (for timeouts and timing loops).
func monotonicSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

private final class WorkerStart {
    let pool: KernelThreadPool
    let index: Int
    let seen: Int
    init(pool: KernelThreadPool, index: Int, seen: Int) { self.pool = pool; self.index = index; self.seen = seen }
}
