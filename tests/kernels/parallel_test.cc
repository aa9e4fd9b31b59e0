// The kernels' thread pool (kernels/parallel.h): every task runs exactly once on a thread of
// the requested team, whatever sequence of team sizes came before; workers do run tasks when
// the work waits for them, and a worker that has not started is withdrawn without loss;
// nested and concurrent calls run inline; a fork child gets a working pool.
#include "kernels/parallel.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace rtmo::kernels {
namespace {

// Runs `tasks` tasks on `threads` threads; every task must run once, on a slot of the team.
void ExpectEachTaskOnce(int64_t tasks, int threads) {
  std::vector<std::atomic<int>> runs(static_cast<size_t>(tasks));
  std::atomic<int> bad_slot{-1};
  ParallelFor(tasks, threads, [&](int64_t t, int slot) {
    runs[static_cast<size_t>(t)].fetch_add(1, std::memory_order_relaxed);
    if (slot < 0 || slot >= std::max(threads, 1)) bad_slot.store(slot);
  });
  for (int64_t t = 0; t < tasks; ++t) {
    ASSERT_EQ(runs[static_cast<size_t>(t)].load(), 1)
        << "task " << t << " of " << tasks << " on " << threads << " threads";
  }
  EXPECT_EQ(bad_slot.load(), -1) << "a thread outside the team of " << threads << " ran a task";
}

TEST(Pool, EveryTaskOnceForAnySequenceOfTeamSizes) {
  // Growing, shrinking and growing again: after 7 threads, a 2-thread loop must only
  // involve slots 0 and 1 (the idle workers 2..6 stay out of it).
  for (int threads : {1, 2, 3, 7, 2, 1, 7, 2, 4}) {
    for (int64_t tasks : {0, 1, 2, 5, 7, 64, 1000}) ExpectEachTaskOnce(tasks, threads);
  }
}

TEST(Pool, EveryWorkerTakesPartWhenTheTasksWaitForIt) {
  // Each of `threads` tasks waits until all have started, so the loop can only finish if
  // every slot of the team runs one, on its own thread (a worker may be withdrawn only
  // once the tasks are all claimed, and here none finishes before all are claimed). A
  // missing worker fails after 20 s instead of hanging the test.
  for (int threads : {2, 7, 3}) {
    std::atomic<int> started{0}, timed_out{0};
    std::vector<std::atomic<int>> slot_runs(static_cast<size_t>(threads));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    ParallelFor(threads, threads, [&](int64_t, int slot) {
      slot_runs[static_cast<size_t>(slot)].fetch_add(1);
      started.fetch_add(1);
      while (started.load() < threads) {
        if (std::chrono::steady_clock::now() > deadline) {
          timed_out.store(1);
          return;
        }
        std::this_thread::yield();
      }
    });
    ASSERT_EQ(timed_out.load(), 0) << "not every worker of a " << threads << "-thread team ran";
    for (int s = 0; s < threads; ++s) EXPECT_EQ(slot_runs[static_cast<size_t>(s)].load(), 1);
  }
}

TEST(Pool, WithdrawnWorkersLoseNoTaskAndTouchNoLaterLoop) {
  // Loops of two trivial tasks after a pause long enough for the worker to fall asleep
  // (its spin is ~100 us): the caller runs out of tasks long before the futex wakes the
  // worker, so most offers are withdrawn. Every loop's tasks must still run once, and a
  // worker waking to a withdrawn offer must not run anything of the loop that follows
  // (each loop's tasks check that they belong to the live loop).
  const uint64_t before = OffersWithdrawn();
  std::atomic<int> live{-1}, stale{0};
  for (int loop = 0; loop < 300; ++loop) {
    if (loop % 3 == 0) std::this_thread::sleep_for(std::chrono::microseconds(300));
    std::atomic<int> runs[2] = {0, 0};
    live.store(loop);
    ParallelFor(2, 2, [&, loop](int64_t t, int) {
      if (live.load() != loop) stale.fetch_add(1);
      runs[t].fetch_add(1);
    });
    live.store(-1);
    ASSERT_EQ(runs[0].load(), 1) << "loop " << loop;
    ASSERT_EQ(runs[1].load(), 1) << "loop " << loop;
  }
  EXPECT_EQ(stale.load(), 0) << "a task ran outside its loop";
  EXPECT_GT(OffersWithdrawn(), before) << "no offer was withdrawn: the path was not tested";
}

TEST(Pool, NestedCallsRunInlineOnTheTaskThread) {
  std::atomic<int> wrong{0};
  ParallelFor(8, 2, [&](int64_t, int) {
    if (MaxThreads() != 1) wrong.fetch_add(1);
    const std::thread::id me = std::this_thread::get_id();
    ParallelFor(5, 2, [&](int64_t, int slot) {
      if (slot != 0 || std::this_thread::get_id() != me) wrong.fetch_add(1);
    });
  });
  EXPECT_EQ(wrong.load(), 0) << "a nested loop left its task's thread";
}

TEST(Pool, ConcurrentCallersAllComplete) {
  // Two application threads using the kernels at once: one gets the pool, the other runs
  // its loop inline; both must see every task run once.
  auto worker = [](int64_t* total) {
    for (int rep = 0; rep < 50; ++rep) {
      std::atomic<int64_t> sum{0};
      ParallelFor(64, 2, [&](int64_t t, int) { sum.fetch_add(t + 1); });
      *total += sum.load();
    }
  };
  int64_t a = 0, b = 0;
  std::thread ta(worker, &a), tb(worker, &b);
  ta.join();
  tb.join();
  EXPECT_EQ(a, 50 * 64 * 65 / 2);
  EXPECT_EQ(b, 50 * 64 * 65 / 2);
}

TEST(Pool, ForkChildHasAWorkingPool) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "ThreadSanitizer does not support starting threads in the child of a "
                  "multi-threaded fork (it ends the child); the ASan and plain builds run this";
#endif
  ExpectEachTaskOnce(100, 2);  // the parent's pool has a worker now
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // The parent's worker does not exist here; a loop must still finish, correctly.
    std::atomic<int64_t> sum{0};
    ParallelFor(100, 2, [&](int64_t t, int) { sum.fetch_add(t); });
    _exit(sum.load() == 99 * 100 / 2 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "the fork child did not exit normally (hang or crash)";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the fork child's loop lost tasks";
}

}  // namespace
}  // namespace rtmo::kernels
