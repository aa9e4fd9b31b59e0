// Kernel benchmarks (google-benchmark): the FMA peak probe, GEMM, attention and every
// convolution shape of RTMO-s at 640x640 (bench/conv_shapes.h), each on Best().
//
// Wall-clock time per iteration is measured by hand (UseManualTime) because the kernels
// run on OpenMP threads; google-benchmark's CPU time only sees the calling thread.
// Counters: GFLOP/s (2 * MACs / wall time), and busy = process CPU time / (wall time x
// threads): well below 1.0 means the machine was shared (or threads idled) and the
// number is pessimistic. bench/kernels.sh turns the JSON output into the % of peak table
// and the comparison with ONNX Runtime.
//
//   OMP_NUM_THREADS=2 build/bench/kernels_bench --benchmark_repetitions=5
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "bench/kernels_bench.cc"
#include <omp.h>

#include <chrono>
#include <ctime>
#include <string>
#include <vector>

#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace rtmo::bench::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// FMA throughput of one thread: 12 independent accumulator chains (more than latency x
// pipes = 4 x 2 on Zen 4 / Skylake), `iters` rounds. Returns the FLOPs executed.
double FmaProbe(int64_t iters, float* sink) {
  const hn::ScalableTag<float> d;
  const auto a = hn::Set(d, 0.9999999f), b = hn::Set(d, 1e-7f);
  auto c0 = hn::Set(d, *sink), c1 = hn::Add(c0, b), c2 = hn::Add(c1, b), c3 = hn::Add(c2, b);
  auto c4 = hn::Add(c3, b), c5 = hn::Add(c4, b), c6 = hn::Add(c5, b), c7 = hn::Add(c6, b);
  auto c8 = hn::Add(c7, b), c9 = hn::Add(c8, b), c10 = hn::Add(c9, b), c11 = hn::Add(c10, b);
  for (int64_t i = 0; i < iters; ++i) {
    c0 = hn::MulAdd(c0, a, b);
    c1 = hn::MulAdd(c1, a, b);
    c2 = hn::MulAdd(c2, a, b);
    c3 = hn::MulAdd(c3, a, b);
    c4 = hn::MulAdd(c4, a, b);
    c5 = hn::MulAdd(c5, a, b);
    c6 = hn::MulAdd(c6, a, b);
    c7 = hn::MulAdd(c7, a, b);
    c8 = hn::MulAdd(c8, a, b);
    c9 = hn::MulAdd(c9, a, b);
    c10 = hn::MulAdd(c10, a, b);
    c11 = hn::MulAdd(c11, a, b);
  }
  const auto s = hn::Add(
      hn::Add(hn::Add(hn::Add(c0, c1), hn::Add(c2, c3)), hn::Add(hn::Add(c4, c5), hn::Add(c6, c7))),
      hn::Add(hn::Add(c8, c9), hn::Add(c10, c11)));
  *sink = hn::GetLane(s);
  return 2.0 * 12 * static_cast<double>(iters) * hn::Lanes(d);
}

}  // namespace rtmo::bench::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <benchmark/benchmark.h>

#include "bench/conv_shapes.h"
#include "kernels/ops.h"

namespace rtmo::bench {
namespace {

HWY_EXPORT(FmaProbe);

using kernels::Act;
using kernels::Ops;

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
double ProcessCpu() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

// Runs `fn` once per benchmark iteration, timing wall clock; sets GFLOP/s and busy.
template <class Fn>
void TimeLoop(benchmark::State& state, double flops, Fn fn) {
  fn();  // warm-up: scratch growth, page faults, packing caches
  double wall = 0, cpu = 0;
  for (auto _ : state) {
    const double c0 = ProcessCpu(), t0 = Now();
    fn();
    const double t1 = Now(), c1 = ProcessCpu();
    state.SetIterationTime(t1 - t0);
    wall += t1 - t0;
    cpu += c1 - c0;
  }
  const int threads = omp_get_max_threads();
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["busy"] = wall > 0 ? cpu / (wall * threads) : 0.0;
  // FLOPs per second of CPU time the process actually received: robust to other processes
  // taking our cores, optimistic if threads spin-wait (spinning counts as CPU time).
  state.counters["GFLOP/cpu_s"] =
      cpu > 0 ? flops * 1e-9 * static_cast<double>(state.iterations()) / cpu : 0.0;
  state.counters["threads"] = threads;
  state.SetLabel(kernels::Best().target_name);
}

std::vector<float> RandomVector(size_t n, uint32_t seed) {
  std::vector<float> v(n);
  uint32_t s = seed;
  for (float& x : v) {
    s = s * 1664525u + 1013904223u;
    x = static_cast<float>(s >> 8) * (2.0f / 16777216.0f) - 1.0f;
  }
  return v;
}

// Peak: every OpenMP thread runs the FMA probe at once; FLOPs of all threads / wall time.
void BM_FmaPeak(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0)) == 0 ? omp_get_max_threads() : 1;
  const int64_t iters = 20'000'000;
  double flops = 0;
  float sink = 1.0f;
#pragma omp parallel num_threads(threads) reduction(+ : flops)
  { flops = HWY_DYNAMIC_DISPATCH(FmaProbe)(1000, &sink); }
  flops = 0;
  double wall = 0, cpu = 0;
  for (auto _ : state) {
    const double c0 = ProcessCpu(), t0 = Now();
    double f = 0;
#pragma omp parallel num_threads(threads) reduction(+ : f)
    {
      float s = 1.0f + omp_get_thread_num();
      f = HWY_DYNAMIC_DISPATCH(FmaProbe)(iters, &s);
      benchmark::DoNotOptimize(s);
    }
    const double t1 = Now(), c1 = ProcessCpu();
    state.SetIterationTime(t1 - t0);
    wall += t1 - t0;
    cpu += c1 - c0;
    flops = f;
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["busy"] = wall > 0 ? cpu / (wall * threads) : 0.0;
  // FLOPs per second of CPU time the process actually received: robust to other processes
  // taking our cores, optimistic if threads spin-wait (spinning counts as CPU time).
  state.counters["GFLOP/cpu_s"] =
      cpu > 0 ? flops * 1e-9 * static_cast<double>(state.iterations()) / cpu : 0.0;
  state.counters["threads"] = threads;
  state.SetLabel(kernels::Best().target_name);
}

void BM_Gemm(benchmark::State& state) {
  const int M = state.range(0), N = state.range(1), K = state.range(2);
  const bool trans_b = state.range(3) != 0;
  const Ops& ops = kernels::Best();
  const std::vector<float> A = RandomVector(size_t(M) * K, 1), B = RandomVector(size_t(K) * N, 2);
  std::vector<float> C(size_t(M) * N);
  kernels::Scratch scratch;
  TimeLoop(state, 2.0 * M * N * K, [&] {
    ops.gemm(M, N, K, A.data(), K, B.data(), trans_b ? K : N, trans_b, nullptr, Act::kNone,
             C.data(), N, &scratch);
  });
}

void BM_Attention(benchmark::State& state) {
  const int T = state.range(0), H = 8, D = 32;
  const Ops& ops = kernels::Best();
  const std::vector<float> qkv = RandomVector(size_t(T) * 3 * H * D, 3);
  std::vector<float> out(size_t(T) * H * D);
  kernels::Scratch scratch;
  TimeLoop(state, 2.0 * 2.0 * T * T * D * H, [&] {
    ops.attention(qkv.data(), qkv.data() + H * D, qkv.data() + 2 * H * D, 3 * H * D, T, H, D,
                  out.data(), H * D, &scratch);
  });
}

// SiLU over n floats (4096: in L1, the size of one conv epilogue's working set; 1 M: the
// stem's output, from memory): ns per element is what the conv epilogues pay per output.
void BM_Silu(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const Ops& ops = kernels::Best();
  const std::vector<float> x = RandomVector(n, 7);
  std::vector<float> y(n);
  TimeLoop(state, static_cast<double>(n), [&] { ops.silu(x.data(), n, y.data()); });
}

// One RTMO-s conv shape (index into kRtmoSConvs): conv + bias, no activation, so that it
// compares like for like with a single ONNX Conv node.
void BM_Conv(benchmark::State& state) {
  const ConvCase& c = kRtmoSConvs[state.range(0)];
  const Ops& ops = kernels::Best();
  const kernels::ConvShape s = kernels::ConvShape::Square(c.in_c, c.out_c, c.k, c.stride, c.groups);
  const std::vector<float> w = RandomVector(size_t(c.out_c) * (c.in_c / c.groups) * c.k * c.k, 4);
  const std::vector<float> b = RandomVector(c.out_c, 5);
  const std::vector<float> x = RandomVector(size_t(c.in_c) * c.in_h * c.in_w, 6);
  std::vector<float> y(size_t(c.out_c) * c.OutH() * c.OutW());
  kernels::PackedConv packed;
  ops.pack_conv(s, w.data(), b.data(), &packed);
  kernels::Scratch scratch;
  TimeLoop(state, 2.0 * c.Macs(), [&] {
    ops.conv2d(packed, x.data(), c.in_h, c.in_w, Act::kNone, nullptr, y.data(), &scratch);
  });
  state.counters["count"] = c.count;
  state.counters["macs"] = static_cast<double>(c.Macs());
}

void Register() {
  benchmark::RegisterBenchmark("peak/fma/1thread", BM_FmaPeak)
      ->Arg(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("peak/fma/all", BM_FmaPeak)
      ->Arg(0)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("gemm", BM_Gemm)
      ->Args({256, 6400, 1152, 0})  // = 3x3 conv 128->256 at 80x80 as one GEMM
      ->Args({400, 768, 256, 1})    // encoder QKV projection (Linear: B = W^T)
      ->Args({400, 1024, 256, 1})   // encoder FFN up
      ->Args({400, 256, 1024, 1})   // encoder FFN down
      ->Args({782, 640, 128, 0})    // DCC GAU uv, 46 people x 17 keypoints (Linear: B = W)
      ->Args({782, 128, 256, 0})    // DCC GAU o
      ->Args({17, 256, 128, 0})     // DCC y logits of one person
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("attention/8x32", BM_Attention)
      ->Arg(400)
      ->Arg(169)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("silu", BM_Silu)
      ->Arg(4096)
      ->Arg(1 << 20)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
  for (size_t i = 0; i < std::size(kRtmoSConvs); ++i) {
    const ConvCase& c = kRtmoSConvs[i];
    const std::string name = "conv/" + std::to_string(i) + "/" + std::to_string(c.in_c) + "x" +
                             std::to_string(c.in_h) + "x" + std::to_string(c.in_w) + "->" +
                             std::to_string(c.out_c) + "/k" + std::to_string(c.k) + "s" +
                             std::to_string(c.stride) + "g" + std::to_string(c.groups);
    benchmark::RegisterBenchmark(name.c_str(), BM_Conv)
        ->Arg(static_cast<int64_t>(i))
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  }
}

}  // namespace
}  // namespace rtmo::bench

int main(int argc, char** argv) {
  rtmo::bench::Register();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
#endif  // HWY_ONCE
