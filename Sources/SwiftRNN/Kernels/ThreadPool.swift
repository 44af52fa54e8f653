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
let maxKernelThreads = 64

/// Sets how many threads the kernels may use (values below 1 are taken as 1). Process-wide.
/// Results do not depend on this setting: every output element is reduced in the same order
/// whatever the thread count.
public func setNumThreads(_ n: Int) {
    threadCount.store(min(max(1, n), maxKernelThreads), ordering: .relaxed)
}

/// How many threads the kernels may use.
public func getNumThreads() -> Int { threadCount.load(ordering: .relaxed) }

/// Runs `body(0) ... body(count - 1)`, spread over up to `getNumThreads()` threads (the caller
/// included), and returns when all have finished. Tasks must be independent. Runs everything on the
/// calling thread when `count <= 1`, when one thread is configured, or when the pool is already busy
/// (a nested call, or a second caller thread): callers get the same results either way.
func parallelFor(_ count: Int, _ body: (Int) -> Void) {
    let threads = min(count, getNumThreads())
    if threads <= 1 || !KernelThreadPool.shared.run(count: count, threads: threads, body) {
        for t in 0..<count { body(t) }
    }
}

/// The pool behind `parallelFor`. Workers sleep on `wake` and take task numbers under `mutex`.
final class KernelThreadPool: @unchecked Sendable {
    static let shared = KernelThreadPool()

    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let wake: UnsafeMutablePointer<pthread_cond_t>
    private let done: UnsafeMutablePointer<pthread_cond_t>
    /// Held by the one caller that owns the pool for a job; others run their job serially.
    private let busy: UnsafeMutablePointer<pthread_mutex_t>

    // All of the following are guarded by `mutex`.
    private var workers = 0
    private var generation = 0
    private var job: ((Int) -> Void)?
    private var nextTask = 0
    private var taskCount = 0
    private var unfinished = 0
    /// How many workers may take part in the current job (threads - 1).
    private var helpers = 0

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

    /// Runs the job on `threads` threads (caller included). Returns false, having run nothing, when
    /// the pool is busy or a worker thread cannot be started.
    func run(count: Int, threads: Int, _ body: (Int) -> Void) -> Bool {
        guard pthread_mutex_trylock(busy) == 0 else { return false }
        defer { pthread_mutex_unlock(busy) }
        pthread_mutex_lock(mutex)
        while workers < threads - 1 {
            if !startWorker() { break }
            workers += 1
        }
        let helpers = min(workers, threads - 1)
        if helpers == 0 { pthread_mutex_unlock(mutex); return false }
        withoutActuallyEscaping(body) { body in
            job = body
            nextTask = 0
            taskCount = count
            unfinished = count
            self.helpers = helpers
            generation &+= 1
            pthread_cond_broadcast(wake)
            takeTasks()
            while unfinished > 0 { pthread_cond_wait(done, mutex) }
            job = nil
        }
        pthread_mutex_unlock(mutex)
        return true
    }

    /// Runs tasks until none is left. Called and returns with `mutex` held.
    private func takeTasks() {
        while nextTask < taskCount, let body = job {
            let t = nextTask
            nextTask += 1
            pthread_mutex_unlock(mutex)
            body(t)
            pthread_mutex_lock(mutex)
            unfinished -= 1
            if unfinished == 0 { pthread_cond_signal(done) }
        }
    }

    private func workerLoop(index: Int) {
        pthread_mutex_lock(mutex)
        var seen = generation
        while true {
            while generation == seen { pthread_cond_wait(wake, mutex) }
            seen = generation
            if index < helpers { takeTasks() }
        }
    }

    private func startWorker() -> Bool {
        let box = Unmanaged.passRetained(WorkerStart(pool: self, index: workers))
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
            start.pool.workerLoop(index: start.index)
            return nil
        }, box.toOpaque())
        if rc != 0 { box.release(); return false }
        return true
    }
}

private final class WorkerStart {
    let pool: KernelThreadPool
    let index: Int
    init(pool: KernelThreadPool, index: Int) { self.pool = pool; self.index = index }
}
