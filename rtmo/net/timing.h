// Optional wall-clock laps for the benchmarks (bench/e2e_bench): which part of an inference
// took how long. Off unless a sink is installed; then each `Lap(name)` reports the time
// since the previous `Lap`/`Start` on the same thread. Not part of the public API.
//
// The model code marks the end of each part with one line, e.g. after the stem:
//   timing::Lap("backbone.stem");
// Names: "preprocess", "backbone.*", "neck.*", "head.*" (the network), "post.*"
// (post-processing: decode/filter/sort, NMS, DCC, mapping back). A name may repeat within
// one inference (e.g. once per head level); the sink adds them up.
//
// Kernels return only after their OpenMP region has joined, so a lap measures the work of
// every thread. Cost when no sink is installed: one relaxed atomic load per lap. The sink
// is process-wide: install it before, and remove it after, the Predict calls it observes.
#ifndef RTMO_TIMING_H_
#define RTMO_TIMING_H_

#include <atomic>
#include <chrono>

namespace rtmo::timing {

// Receives one lap: `name` is a string literal, `ms` the milliseconds since the previous lap.
using Sink = void (*)(void* user, const char* name, double ms);

namespace internal {
inline std::atomic<Sink> g_sink{nullptr};
inline std::atomic<void*> g_user{nullptr};
inline thread_local std::chrono::steady_clock::time_point t_last{};
}  // namespace internal

// Installs `sink` (nullptr removes it).
inline void SetSink(Sink sink, void* user) {
  internal::g_user.store(user, std::memory_order_relaxed);
  internal::g_sink.store(sink, std::memory_order_release);
}

// Restarts this thread's lap clock (at the start of an inference).
inline void Start() {
  if (internal::g_sink.load(std::memory_order_acquire) != nullptr) {
    internal::t_last = std::chrono::steady_clock::now();
  }
}

// Reports the time since the previous Lap/Start under `name` and restarts the clock.
inline void Lap(const char* name) {
  const Sink sink = internal::g_sink.load(std::memory_order_acquire);
  if (sink == nullptr) return;
  const auto now = std::chrono::steady_clock::now();
  sink(internal::g_user.load(std::memory_order_relaxed), name,
       std::chrono::duration<double, std::milli>(now - internal::t_last).count());
  internal::t_last = std::chrono::steady_clock::now();  // the sink's own time is not counted
}

}  // namespace rtmo::timing

#endif  // RTMO_TIMING_H_
