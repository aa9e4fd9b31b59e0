// The kernels' thread pool (see kernels/parallel.h for why it exists and its semantics).
#include "kernels/parallel.h"

#include <omp.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "kernels/ops.h"

namespace rtmo::kernels {
namespace {

// True while this thread runs a task of the pool: kernels called from a task run inline.
thread_local bool t_in_task = false;

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// How long a waiting thread spins before it sleeps: 2000 pause instructions, roughly
// 10-100 us depending on the CPU's pause latency. Long enough to catch the next kernel
// call of an inference in progress (they follow each other within microseconds), short
// enough that on a busy machine a waiting thread gives its core back almost at once.
constexpr int kSpinIterations = 2000;

// Waits until a != old (spinning, then sleeping in the kernel); returns the new value.
template <class T>
T WaitForChange(const std::atomic<T>& a, T old) {
  for (int i = 0; i < kSpinIterations; ++i) {
    const T v = a.load(std::memory_order_acquire);
    if (v != old) return v;
    CpuRelax();
  }
  for (;;) {
    a.wait(old, std::memory_order_acquire);
    const T v = a.load(std::memory_order_acquire);
    if (v != old) return v;
  }
}

void RunInline(int64_t tasks, TaskFn call, void* ctx) {
  for (int64_t t = 0; t < tasks; ++t) call(ctx, t, 0);
}

class Pool {
 public:
  // One loop on `threads` threads (the caller and threads - 1 workers), or inline when
  // another thread's loop holds the pool.
  void Run(int64_t tasks, int threads, TaskFn call, void* ctx) {
    std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
    if (!lock.owns_lock()) {
      RunInline(tasks, call, ctx);
      return;
    }
    const int team = threads - 1;  // workers taking part: workers_[0, team)
    Grow(team);
    call_ = call;
    ctx_ = ctx;
    tasks_ = tasks;
    next_.store(0, std::memory_order_relaxed);
    pending_.store(team, std::memory_order_relaxed);
    // Publish: each team worker has its own wake word, so the workers outside the team
    // (started when a larger thread count was used once) sleep on undisturbed, and never
    // read the job's fields (the next loop may rewrite them).
    ++loop_;
    for (int i = 0; i < team; ++i) {
      workers_[i]->wake.store(loop_, std::memory_order_release);
      workers_[i]->wake.notify_one();
    }
    Work(0);
    // Join: every team worker has taken part and finished its tasks.
    for (int p = pending_.load(std::memory_order_acquire); p != 0;) p = WaitForChange(pending_, p);
  }

 private:
  struct alignas(64) Worker {       // own cache line: the caller writes it, one worker waits on it
    std::atomic<uint64_t> wake{0};  // the last loop this worker was asked to join
    std::thread thread;
  };

  void Work(int slot) {
    NoteKernelThread(slot);
    t_in_task = true;
    for (;;) {
      const int64_t t = next_.fetch_add(1, std::memory_order_relaxed);
      if (t >= tasks_) break;
      call_(ctx_, t, slot);
    }
    t_in_task = false;
  }

  // Worker `index` (slot index + 1): joins every loop its wake word announces.
  void WorkerLoop(Worker* self, int index) {
    for (uint64_t seen = 0;;) {
      seen = WaitForChange(self->wake, seen);
      Work(index + 1);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
    }
  }

  // Starts workers until there are n (called with mu_ held, before publishing).
  void Grow(int n) {
    while (static_cast<int>(workers_.size()) < n) {
      const int index = static_cast<int>(workers_.size());
      workers_.push_back(std::make_unique<Worker>());
      Worker* w = workers_.back().get();
      w->thread = std::thread(&Pool::WorkerLoop, this, w, index);
    }
  }

  std::mutex mu_;  // one loop at a time
  std::vector<std::unique_ptr<Worker>> workers_;
  uint64_t loop_ = 0;             // loops run so far (under mu_)
  std::atomic<int> pending_{0};   // team workers not finished with the current loop
  std::atomic<int64_t> next_{0};  // next task to claim
  // The current loop; written before the team's wake words, read by its team only.
  TaskFn call_ = nullptr;
  void* ctx_ = nullptr;
  int64_t tasks_ = 0;
};

// Never destroyed: its workers sleep until the process ends, and no static destructor
// can find the pool gone. A child of fork() has none of the parent's workers (and may
// have inherited a locked mutex), so it starts from a new, empty pool.
std::atomic<Pool*> g_pool{nullptr};

Pool& ThePool() {
  static const bool registered = [] {
    pthread_atfork(nullptr, nullptr, [] { g_pool.store(new Pool, std::memory_order_relaxed); });
    return true;
  }();
  (void)registered;
  Pool* pool = g_pool.load(std::memory_order_acquire);
  if (pool == nullptr) {
    Pool* fresh = new Pool;
    if (g_pool.compare_exchange_strong(pool, fresh, std::memory_order_acq_rel)) {
      pool = fresh;
    } else {
      delete fresh;  // another thread installed one first (pool now holds it)
    }
  }
  return *pool;
}

}  // namespace

int MaxThreads() {
  if (t_in_task || omp_in_parallel()) return 1;
  return omp_get_max_threads();
}

void RunTasks(int64_t tasks, int threads, TaskFn call, void* ctx) {
  if (tasks <= 0) return;
  if (threads <= 1 || tasks == 1 || t_in_task) {
    RunInline(tasks, call, ctx);
    return;
  }
  ThePool().Run(tasks, threads, call, ctx);
}

}  // namespace rtmo::kernels
