// stress_predict: the stress runs of tests/RELIABILITY.md (outside CI; tools/fuzz_stress.sh
// builds and runs it, under ThreadSanitizer for `threads`).
//
//   stress_predict threads VARIANT T N [SIZE]  T threads share one Model, N images each;
//                                              every result must equal the sequential one
//   stress_predict soak VARIANT N [SIZE]       N predictions on one Model, RSS sampled
//   stress_predict load VARIANT [REPEATS]      .rtmo load time, version 2 (checksums) vs 1
//
// The models have seeded random weights (no checkpoint needed, rtmo/testing/synthetic_model.h):
// VARIANT t/s/m/l with its official layout; SIZE (default: the variant's own) sets a smaller
// network input to make long runs affordable. Exit status 0 only if every check passed.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "rtmo/error.h"
#include "rtmo/io/config.h"
#include "rtmo/io/weights.h"
#include "rtmo/net/network.h"
#include "rtmo/rtmo.h"
#include "rtmo/testing/synthetic_model.h"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string WriteModel(const std::string& variant, uint32_t version) {
  const std::string path = "/tmp/rtmo_stress_" + variant + "_v" + std::to_string(version) + "_" +
                           std::to_string(getpid()) + ".rtmo";
  rtmo::SyntheticWeightsOptions options;
  options.version = version;
  // A low classification prior (sigmoid(-1) = 0.27): some cells pass score_thr 0.1, a few
  // people per image at small inputs instead of hundreds at full size (post-processing would
  // dominate).
  options.cls_bias = -1.0f;
  const std::vector<uint8_t> b =
      rtmo::SyntheticWeights(rtmo::ModelConfig::ForVariant(variant), 1234, options);
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  return path;
}

rtmo::Image RandomImage(int w, int h, uint32_t seed) {
  std::mt19937 rng(seed);
  rtmo::Image im;
  im.width = w;
  im.height = h;
  im.bgr.resize(static_cast<size_t>(w) * h * 3);
  // Smooth blobs rather than noise, so some cells score above the threshold.
  const double cx = w * (0.3 + 0.4 * (rng() % 100) / 100.0), cy = h * 0.5;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const double d = std::hypot(x - cx, y - cy) / (0.2 * w);
      for (int c = 0; c < 3; ++c) {
        im.bgr[(static_cast<size_t>(y) * w + x) * 3 + c] =
            static_cast<uint8_t>(std::clamp(255.0 * std::exp(-d * d) + (rng() % 32), 0.0, 255.0));
      }
    }
  }
  return im;
}

long RssKiB() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

bool Same(const std::vector<rtmo::Person>& a, const std::vector<rtmo::Person>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].bbox != b[i].bbox || a[i].score != b[i].score ||
        a[i].keypoints.size() != b[i].keypoints.size()) {
      return false;
    }
    for (size_t k = 0; k < a[i].keypoints.size(); ++k) {
      const rtmo::Keypoint &p = a[i].keypoints[k], &q = b[i].keypoints[k];
      if (p.x != q.x || p.y != q.y || p.score != q.score) return false;
    }
  }
  return true;
}

rtmo::ModelOptions Opts(int size) {
  rtmo::ModelOptions mo;
  if (size > 0) mo.input_width = mo.input_height = size;
  return mo;
}

int Threads(const std::string& variant, int threads, int per_thread, int size) {
  const std::string path = WriteModel(variant, rtmo::kWeightsVersion);
  const rtmo::Model model = rtmo::Model::Load(path, Opts(size));
  std::remove(path.c_str());
  constexpr int kDistinct = 5;  // images cycle through a few sizes
  std::vector<rtmo::Image> images;
  for (int i = 0; i < kDistinct; ++i) images.push_back(RandomImage(120 + 37 * i, 90 + 23 * i, i));
  std::vector<std::vector<rtmo::Person>> expect;
  size_t people = 0;
  for (const rtmo::Image& im : images) {
    expect.push_back(model.Predict(im));
    people += expect.back().size();
  }
  std::printf("threads: rtmo-%s input %dx%d, %d threads x %d images, sequential people %zu\n",
              variant.c_str(), model.info().input_width, model.info().input_height, threads,
              per_thread, people);
  std::atomic<int> mismatches{0};
  const auto t0 = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        const int k = (t + i) % kDistinct;
        if (!Same(model.Predict(images[k]), expect[k])) ++mismatches;
      }
    });
  }
  for (std::thread& th : pool) th.join();
  std::printf("threads: %d predictions in %.1f s, %d differ from sequential\n",
              threads * per_thread, Seconds(t0), mismatches.load());
  return mismatches == 0 ? 0 : 1;
}

int Soak(const std::string& variant, int n, int size) {
  const std::string path = WriteModel(variant, rtmo::kWeightsVersion);
  const rtmo::Model model = rtmo::Model::Load(path, Opts(size));
  std::remove(path.c_str());
  std::vector<rtmo::Image> images;
  for (int i = 0; i < 7; ++i) images.push_back(RandomImage(100 + 61 * i, 80 + 47 * i, 100 + i));
  const auto t0 = Clock::now();
  long first = -1, peak = 0;
  size_t people = 0;
  for (int i = 0; i < n; ++i) {
    people += model.Predict(images[i % images.size()]).size();
    const long rss = RssKiB();
    if (i == 99) first = rss;  // after warm-up (buffers, OpenMP pool)
    peak = std::max(peak, rss);
    if ((i + 1) % (n / 10 > 0 ? n / 10 : 1) == 0) {
      std::printf("soak: %6d predictions  %7.1f s  RSS %ld KiB\n", i + 1, Seconds(t0), rss);
      std::fflush(stdout);
    }
  }
  const long last = RssKiB();
  std::printf(
      "soak: rtmo-%s input %dx%d: %d predictions in %.1f s, %zu people; RSS after 100: "
      "%ld KiB, at the end: %ld KiB, peak %ld KiB\n",
      variant.c_str(), model.info().input_width, model.info().input_height, n, Seconds(t0), people,
      first, last, peak);
  // Growth beyond 1 MiB over the run is a leak candidate (the RSS includes allocator
  // caching, which settles after warm-up).
  return last - first <= 1024 ? 0 : 1;
}

int Load(const std::string& variant, int repeats) {
  const std::string v2 = WriteModel(variant, rtmo::kWeightsVersion);
  const std::string v1 = WriteModel(variant, rtmo::kWeightsVersion1);
  double best[2][2] = {{1e9, 1e9}, {1e9, 1e9}};  // [open, model load][v1, v2]
  uint64_t bytes = 0;
  for (int r = 0; r < repeats; ++r) {
    for (int v = 0; v < 2; ++v) {
      const std::string& p = v ? v2 : v1;
      auto t0 = Clock::now();
      {
        const rtmo::Weights w = rtmo::Weights::Open(p);
        bytes = w.file_size();
      }
      best[0][v] = std::min(best[0][v], Seconds(t0));
      t0 = Clock::now();
      { const rtmo::Model m = rtmo::Model::Load(p); }
      best[1][v] = std::min(best[1][v], Seconds(t0));
    }
  }
  // Raw CRC-32 throughput on the file's bytes, in memory (no page faults).
  std::vector<uint8_t> buf(bytes);
  {
    std::ifstream f(v2, std::ios::binary);
    f.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(bytes));
  }
  double crc_best = 1e9;
  uint32_t crc = 0;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = Clock::now();
    crc ^= rtmo::Crc32(buf.data(), buf.size());
    crc_best = std::min(crc_best, Seconds(t0));
  }
  std::printf("  Crc32 in memory: %.1f ms for %.1f MB = %.2f GB/s (crc %08X)\n", 1e3 * crc_best,
              bytes / 1e6, bytes / 1e9 / crc_best, crc);
  std::remove(v1.c_str());
  std::remove(v2.c_str());
  std::printf("load: rtmo-%s %.1f MB, best of %d (page cache warm):\n", variant.c_str(),
              bytes / 1e6, repeats);
  std::printf("  Weights::Open  v1 %.1f ms  v2 %.1f ms  (checksums +%.1f ms, %.2f GB/s)\n",
              1e3 * best[0][0], 1e3 * best[0][1], 1e3 * (best[0][1] - best[0][0]),
              bytes / 1e9 / std::max(1e-9, best[0][1] - best[0][0]));
  std::printf("  Model::Load    v1 %.1f ms  v2 %.1f ms  (checksums +%.1f%% of the load)\n",
              1e3 * best[1][0], 1e3 * best[1][1], 100.0 * (best[1][1] - best[1][0]) / best[1][0]);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> a(argv + 1, argv + argc);
  try {
    if (a.size() >= 4 && a[0] == "threads") {
      return Threads(a[1], std::atoi(a[2].c_str()), std::atoi(a[3].c_str()),
                     a.size() > 4 ? std::atoi(a[4].c_str()) : 0);
    }
    if (a.size() >= 3 && a[0] == "soak") {
      return Soak(a[1], std::atoi(a[2].c_str()), a.size() > 3 ? std::atoi(a[3].c_str()) : 0);
    }
    if (a.size() >= 2 && a[0] == "load") {
      return Load(a[1], a.size() > 2 ? std::atoi(a[2].c_str()) : 5);
    }
  } catch (const rtmo::Error& e) {
    std::fprintf(stderr, "stress_predict: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr,
               "usage: stress_predict threads VARIANT T N [SIZE] | soak VARIANT N [SIZE] | "
               "load VARIANT [REPEATS]\n");
  return 2;
}
