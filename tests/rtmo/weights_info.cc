// weights_info FILE.rtmo: opens FILE with the C++ reader (full validation + ValidateLayout)
// and prints one line per tensor, "name<TAB>dtype<TAB>[shape]<TAB>fingerprint", after
// a "config<TAB>variant<TAB>dataset<TAB>w<TAB>h<TAB>keypoints<TAB>official|custom" line. The
// converter tests compare it with the tensors of the torch checkpoint they converted, so the C++
// reader is checked on real converter output.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>

#include "rtmo/error.h"
#include "rtmo/io/weights.h"
#include "rtmo/net/network.h"

namespace {

// sum_i word_i * (2i + 1) mod 2^64 over the bytes read as little-endian uint64 words (the
// last one zero-padded): changes with any byte change or word swap, and numpy reproduces it
// in one vectorised line (tests/tools/test_convert_checkpoint.py).
uint64_t Fingerprint(const void* data, uint64_t n) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  uint64_t h = 0;
  for (uint64_t i = 0; i * 8 < n; ++i) {
    uint64_t w = 0;
    std::memcpy(&w, p + i * 8, std::min<uint64_t>(8, n - i * 8));
    h += w * (2 * i + 1);
  }
  return h;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: weights_info FILE.rtmo\n");
    return 2;
  }
  try {
    const rtmo::Weights w = rtmo::Weights::Open(argv[1]);
    rtmo::ValidateLayout(w);
    const rtmo::ModelConfig& c = w.config();
    // Whether the stored config is exactly the official one for its variant and keypoint
    // count (ModelConfig::ForVariant, the C++ twin of the converter's model_config()).
    rtmo::ModelConfig official = rtmo::ModelConfig::ForVariant(c.variant, c.num_keypoints);
    official.dataset = c.dataset;
    const bool is_official = rtmo::ConfigToText(official) == rtmo::ConfigToText(c);
    std::printf("config\t%s\t%s\t%d\t%d\t%d\t%s\n", c.variant.c_str(), c.dataset.c_str(), c.input_w,
                c.input_h, c.num_keypoints, is_official ? "official" : "custom");
    for (const rtmo::TensorInfo& t : w.tensors()) {
      std::printf("%s\t%s\t%s\t%016llx\n", t.name.c_str(), rtmo::DTypeName(t.dtype).c_str(),
                  rtmo::ShapeString(t.shape).c_str(),
                  static_cast<unsigned long long>(Fingerprint(t.data, t.bytes)));
    }
  } catch (const rtmo::Error& e) {
    std::fprintf(stderr, "weights_info: %s\n", e.what());
    return 1;
  }
  return 0;
}
