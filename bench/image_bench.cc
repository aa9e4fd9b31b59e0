// Image decoding and the letterbox (rtmo_image). Speed is measured here, never asserted.
//   build/bench/image_bench [--benchmark_filter=Letterbox]
// Reference point on the dev machine (2 cores, loaded): 640x480 -> 640x640 letterbox to the
// float CHW network input ~1.7 ms on 1 thread, ~0.9 ms on 2; OpenCV's warpAffine plus
// numpy's transpose/astype on the same image ~1.6 ms.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <cstdint>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "rtmo/io/image.h"
#include "rtmo/io/preprocess.h"

namespace {

rtmo::Image RandomImage(int w, int h) {
  std::mt19937 rng(1);
  rtmo::Image im;
  im.width = w;
  im.height = h;
  im.bgr.resize(static_cast<size_t>(w) * h * 3);
  for (auto& v : im.bgr) v = static_cast<uint8_t>(rng());
  return im;
}

// Args: image w, image h, network input size, threads.
void BM_Letterbox(benchmark::State& state) {
  const rtmo::Image im =
      RandomImage(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  const int size = static_cast<int>(state.range(2));
  omp_set_num_threads(static_cast<int>(state.range(3)));
  const rtmo::Letterbox lb = rtmo::MakeLetterbox(im.width, im.height, size, size);
  std::vector<float> out(3u * size * size);
  for (auto _ : state) {
    rtmo::LetterboxChw(im, lb, out.data());
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_Letterbox)
    ->ArgNames({"w", "h", "in", "threads"})
    ->Args({640, 480, 640, 1})
    ->Args({640, 480, 640, 2})
    ->Args({640, 425, 416, 1})
    ->Args({1280, 720, 640, 1})
    ->Args({3000, 2000, 640, 1})
    ->Args({50, 30, 640, 1})
    ->Unit(benchmark::kMillisecond);

void BM_Decode(benchmark::State& state, const char* file) {
  std::ifstream in(std::string(RTMO_BENCH_DATA_DIR) + "/coco/" + file, std::ios::binary);
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                   std::istreambuf_iterator<char>());
  for (auto _ : state) {
    const rtmo::Image im = rtmo::DecodeImage(bytes.data(), bytes.size(), file);
    benchmark::DoNotOptimize(im.bgr.data());
  }
}
BENCHMARK_CAPTURE(BM_Decode, jpeg_640x425, "000000000785.jpg")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Decode, png_640x425, "000000000785.png")->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
