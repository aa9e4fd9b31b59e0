// Float64 (Eigen) Conv2d at every RTMO-s conv shape (bench/conv_shapes.h), plus the
// whole-network conv total printed at the end (sum of count x median time per shape).
// Threads: OMP_NUM_THREADS (default: all cores). Counter GFLOP/s = 2 * MACs / wall time
// (taps on zero padding included, as in kernels_bench).
//
//   OMP_NUM_THREADS=2 build/bench/f64_bench [--benchmark_filter=REGEX]
#include <omp.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "bench/conv_shapes.h"
#include "benchmark/benchmark.h"
#include "kernels/f64/f64.h"

namespace {

using rtmo::bench::ConvCase;
using rtmo::bench::kRtmoSConvs;
namespace f64 = rtmo::kernels::f64;

std::vector<double> Random(size_t n, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::vector<double> v(n);
  for (double& x : v) x = static_cast<double>(gen() >> 11) * 0x1p-53 * 2.0 - 1.0;
  return v;
}

void BM_Conv(benchmark::State& state, ConvCase c) {
  const f64::ConvShape s{c.in_c, c.out_c, c.k, c.k, c.stride, c.k / 2, c.groups};
  const auto w = Random(static_cast<size_t>(c.out_c) * (c.in_c / c.groups) * c.k * c.k, 1);
  const auto b = Random(c.out_c, 2);
  const auto x = Random(static_cast<size_t>(c.in_c) * c.in_h * c.in_w, 3);
  std::vector<double> y(static_cast<size_t>(c.out_c) * c.OutH() * c.OutW());
  const f64::Conv p = f64::MakeConv(s, w.data(), b.data());
  for (auto _ : state) {
    f64::Conv2d(p, {x.data(), c.in_c, c.in_h, c.in_w}, {y.data(), c.out_c, c.OutH(), c.OutW()},
                f64::Act::kSiLU);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * static_cast<double>(c.Macs()) * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

// Collects per-shape times to print the whole-network conv total.
class TotalReporter : public benchmark::ConsoleReporter {
 public:
  // Colour only on a terminal (the flag --benchmark_color applies to the default reporter).
  TotalReporter() : ConsoleReporter(isatty(STDOUT_FILENO) ? OO_Defaults : OO_Tabular) {}
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (r.run_type == Run::RT_Iteration)
        seconds_[r.run_name.function_name] = r.GetAdjustedRealTime();
    }
    ConsoleReporter::ReportRuns(runs);
  }
  void Print() const {
    double total = 0, macs = 0;
    int found = 0;
    for (const ConvCase& c : kRtmoSConvs) {
      const auto it = seconds_.find(std::string("conv/") + c.name);
      if (it == seconds_.end()) continue;
      total += c.count * it->second * 1e-3;  // time unit: ms
      macs += c.count * static_cast<double>(c.Macs());
      ++found;
    }
    std::printf("RTMO-s convs (%d of %zu shapes, x count): %.3f s, %.2f GFLOP/s, %d threads\n",
                found, std::size(kRtmoSConvs), total, total > 0 ? 2 * macs / total * 1e-9 : 0.0,
                omp_get_max_threads());
  }

 private:
  std::map<std::string, double> seconds_;
};

}  // namespace

// Two reference shapes quoted in reports (a large 3x3 and a deep 1x1), outside the total.
constexpr ConvCase kExtra[] = {
    {"ref 3x3 256->256 @40", 256, 256, 3, 1, 1, 40, 40, 0},
    {"ref 1x1 512->256 @20", 512, 256, 1, 1, 1, 20, 20, 0},
};

int main(int argc, char** argv) {
  for (const ConvCase& c : kExtra) {
    benchmark::RegisterBenchmark((std::string("extra/") + c.name).c_str(), BM_Conv, c)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime()
        ->MinTime(0.5);
  }
  for (const ConvCase& c : kRtmoSConvs) {
    benchmark::RegisterBenchmark((std::string("conv/") + c.name).c_str(), BM_Conv, c)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime()
        ->MinTime(0.2);
  }
  benchmark::Initialize(&argc, argv);
  TotalReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.Print();
  benchmark::Shutdown();
  return 0;
}
