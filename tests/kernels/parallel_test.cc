// The kernels' thread pool (kernels/parallel.h): every task runs exactly once on a thread of
// the requested team, whatever sequence of team sizes came before; nested and concurrent
// calls run inline; a fork child gets a working pool.
#include "kernels/parallel.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
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
