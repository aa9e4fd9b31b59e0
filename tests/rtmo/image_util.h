// Image helpers shared by the tests: synthetic images (model_synthetic_test.cc,
// preprocess_test.cc) and drawn pixels (draw_test.cc, cli_test.cc).
#ifndef RTMO_TESTS_RTMO_IMAGE_UTIL_H_
#define RTMO_TESTS_RTMO_IMAGE_UTIL_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <random>

#include "rtmo/rtmo.h"

namespace rtmo::testing {

// w, h -> a w x h image, every channel 128 (mid grey: any drawn colour differs from it).
inline Image Grey(int w, int h) {
  Image im;
  im.width = w;
  im.height = h;
  im.bgr.assign(static_cast<size_t>(w) * h * 3, 128);
  return im;
}

// w, h, seed -> a w x h image of uniform random bytes (mt19937(seed), one draw per byte).
inline Image RandomImage(int w, int h, uint32_t seed) {
  std::mt19937 rng(seed);
  Image im;
  im.width = w;
  im.height = h;
  im.bgr.resize(static_cast<size_t>(w) * h * 3);
  for (auto& v : im.bgr) v = static_cast<uint8_t>(rng());
  return im;
}

// The pixel at (x, y) as {r, g, b} (Image stores b, g, r), the order mmpose's palettes use.
inline std::array<uint8_t, 3> PixelRgb(const Image& im, int x, int y) {
  const uint8_t* p = &im.bgr[(static_cast<size_t>(y) * im.width + x) * 3];
  return {p[2], p[1], p[0]};
}

}  // namespace rtmo::testing

#endif  // RTMO_TESTS_RTMO_IMAGE_UTIL_H_
