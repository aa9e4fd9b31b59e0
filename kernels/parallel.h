// The kernels' thread pool: how every parallel loop in kernels/ runs.
//
// Why not OpenMP parallel regions: libgomp's threads, when they wait (for the next region,
// or at the join for a slower thread), spin for GOMP_SPINCOUNT iterations (300000 by
// default, milliseconds) before they sleep. On a machine where another process wants a
// core, the waiting thread spins away the CPU time that the thread it waits for needs:
// measured on rtmo-s with one competing busy loop on 2 cores, our 2-thread network took
// 2.2x our 1-thread time with libgomp's default wait, and 0.56x with OMP_WAIT_POLICY=passive
// (bench/RESULTS.md, Contention). A library must not set its caller's environment, and
// libgomp has no run-time call for its wait policy, so the kernels use this pool instead:
// fork/join semantics like an OpenMP team's, but a waiting thread spins only briefly (~tens
// of microseconds, enough to catch the next kernel call of a busy inference) and then sleeps
// in the kernel (futex via std::atomic::wait), leaving the core to whoever needs it. And
// where an OpenMP team joins only when every thread has been through the region, a loop here
// ends when its tasks are done: a worker that has not woken by the time the others have
// claimed every task is withdrawn from the loop rather than waited for (on a busy machine
// it may not get a core for milliseconds). Which thread runs which task never changes a
// result (tasks are fixed blocks, not thread shares), so this is invisible to callers.
//
// Thread count: omp_get_max_threads() of the calling thread (so OMP_NUM_THREADS and
// omp_set_num_threads keep working), 1 inside an OpenMP parallel region or inside a task
// of this pool (nested calls run inline). One loop at a time: a second thread calling in
// while a loop runs gets its loop run inline on its own thread (same results: tasks never
// depend on the thread that runs them). After fork() the child starts a new pool.
#ifndef RTMO_KERNELS_PARALLEL_H_
#define RTMO_KERNELS_PARALLEL_H_

#include <cstdint>

namespace rtmo::kernels {

// Threads a kernel may use from here: omp_get_max_threads(), or 1 when called inside an
// OpenMP parallel region or a task of the pool.
int MaxThreads();

// Type-erased body: call(ctx, task, slot).
using TaskFn = void (*)(void* ctx, int64_t task, int slot);
void RunTasks(int64_t tasks, int threads, TaskFn call, void* ctx);

// Runs fn(task, slot) for every task in [0, tasks), handed out dynamically (one at a time,
// in increasing order of claim) to up to `threads` threads; slot in [0, threads) names the
// thread (the caller is 0), for per-thread scratch. Returns when every task is done.
// threads <= 1 or tasks <= 1 runs inline on the caller. A worker that has not started when
// the others have claimed every task takes no part. NoteKernelThread(slot) is called once
// for each slot of the team.
// Test support: how many offers of a loop to a worker have been withdrawn because the
// worker had not started when the tasks ran out (since the process or fork began).
uint64_t OffersWithdrawn();

template <class Fn>
void ParallelFor(int64_t tasks, int threads, const Fn& fn) {
  RunTasks(
      tasks, threads,
      [](void* ctx, int64_t task, int slot) { (*static_cast<const Fn*>(ctx))(task, slot); },
      const_cast<void*>(static_cast<const void*>(&fn)));
}

}  // namespace rtmo::kernels

#endif  // RTMO_KERNELS_PARALLEL_H_
