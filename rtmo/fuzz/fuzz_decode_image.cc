// libFuzzer target: rtmo::DecodeImage on arbitrary bytes (tools/fuzz_image.sh runs it).
// Any input must either decode to a consistent image or throw rtmo::Error: no crash, no
// sanitizer report, no allocation beyond the pixel limit (a small one here, so crafted
// headers cannot make the fuzzer itself run out of memory: -rss_limit_mb catches leaks
// of that kind).
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "rtmo/error.h"
#include "rtmo/io/image.h"

namespace {
// 4 Mpx: far above what a fuzzer input of a few KB encodes honestly, far below the limit
// that would let a crafted header allocate gigabytes.
constexpr size_t kFuzzMaxPixels = size_t{4} << 20;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const rtmo::Image im = rtmo::DecodeImage(data, size, "fuzz-input", kFuzzMaxPixels);
    if (im.width <= 0 || im.height <= 0 ||
        static_cast<size_t>(im.width) * im.height > kFuzzMaxPixels ||
        im.bgr.size() != static_cast<size_t>(im.width) * im.height * 3) {
      std::abort();  // a decoded image must be consistent and within the limit
    }
  } catch (const rtmo::Error&) {
    // Rejected with a message: the expected outcome for most inputs.
  }
  return 0;
}
