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
    const int team = threads - 1;  // workers offered the loop: workers_[0, team)
    Grow(team);
    call_ = call;
    ctx_ = ctx;
    tasks_ = tasks;
    next_.store(0, std::memory_order_relaxed);
    // Publish: each team worker has its own word, so the workers outside the team (started
    // when a larger thread count was used once) sleep on undisturbed.
    ++loop_;
    const uint64_t offer = Word(loop_, kOffered);
    for (int i = 0; i < team; ++i) {
      NoteKernelThread(i + 1);
      workers_[i]->word.store(offer, std::memory_order_release);
      workers_[i]->word.notify_one();
    }
    NoteKernelThread(0);
    Work(0);
    // Join. Every task has been claimed; a worker that accepted the offer may still run
    // one, so wait for it. A worker that has not accepted yet (still asleep, or its core
    // taken by another process) is withdrawn instead of waited for: the caller has done
    // its share, and waiting for a descheduled thread to wake only to find nothing left
    // is what made 2 threads slower than 1 on a busy machine.
    for (int i = 0; i < team; ++i) {
      std::atomic<uint64_t>& word = workers_[i]->word;
      uint64_t v = offer;
      if (word.compare_exchange_strong(v, Word(loop_, kWithdrawn), std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
        withdrawn_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      const uint64_t done = Word(loop_, kDone);
      while (v != done) v = WaitForChange(word, v);
    }
  }

  uint64_t withdrawn() const { return withdrawn_.load(std::memory_order_relaxed); }

 private:
  // A worker's word: (loop << 2) | state. The caller offers a loop; the worker accepts it
  // (offered -> running, one compare-exchange) and reports it done, or the caller withdraws
  // an offer nobody accepted. Whoever wins the race on `offered` decides, so a worker
  // never reads the fields of a loop it has not accepted, and the caller never returns
  // while an accepted worker may still touch them.
  enum State : uint64_t { kOffered = 0, kRunning = 1, kDone = 2, kWithdrawn = 3 };
  static constexpr uint64_t Word(uint64_t loop, State s) { return loop << 2 | s; }

  struct alignas(64) Worker {  // own cache line: the caller writes it, one worker waits on it
    std::atomic<uint64_t> word{Word(0, kDone)};
    std::thread thread;
  };

  void Work(int slot) {
    t_in_task = true;
    for (;;) {
      const int64_t t = next_.fetch_add(1, std::memory_order_relaxed);
      if (t >= tasks_) break;
      call_(ctx_, t, slot);
    }
    t_in_task = false;
  }

  // Worker `index` (slot index + 1): takes part in every loop it accepts in time.
  void WorkerLoop(Worker* self, int index) {
    std::atomic<uint64_t>& word = self->word;
    uint64_t v = word.load(std::memory_order_acquire);
    for (;;) {
      if ((v & 3) == kOffered) {
        if (!word.compare_exchange_strong(v, v | kRunning, std::memory_order_acq_rel,
                                          std::memory_order_acquire)) {
          continue;  // withdrawn (v has the word now): look at it again
        }
        Work(index + 1);
        v = (v & ~uint64_t{3}) | kDone;
        word.store(v, std::memory_order_release);
        word.notify_all();  // the caller may be waiting on this word
      }
      v = WaitForChange(word, v);
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
  std::atomic<int64_t> next_{0};  // next task to claim
  std::atomic<uint64_t> withdrawn_{0};  // offers withdrawn (test support)
  // The current loop; written before the offers, read only by threads that accepted one.
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

uint64_t OffersWithdrawn() { return ThePool().withdrawn(); }

void RunTasks(int64_t tasks, int threads, TaskFn call, void* ctx) {
  if (tasks <= 0) return;
  if (threads <= 1 || tasks == 1 || t_in_task) {
    RunInline(tasks, call, ctx);
    return;
  }
  ThePool().Run(tasks, threads, call, ctx);
}

}  // namespace rtmo::kernels
