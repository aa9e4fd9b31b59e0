// libFuzzer target for the .rtmo reader: any byte string must either parse into a fully
// valid Weights or throw rtmo::Error -- never crash, hang, leak or read out of bounds.
// Run with tools/fuzz_weights.sh SECONDS (builds with clang, seeds from weights_seeds).
#include <cstddef>
#include <cstdint>

#include "rtmo/error.h"
#include "rtmo/io/weights.h"
#include "rtmo/net/network.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const rtmo::Weights w = rtmo::Weights::FromBytes("fuzz.rtmo", data, size);
    // Touch the first and last byte of every tensor: ASan flags any bad pointer/size.
    volatile uint8_t sink = 0;
    for (const rtmo::TensorInfo& t : w.tensors()) {
      const uint8_t* p = static_cast<const uint8_t*>(t.data);
      sink = sink + p[0] + p[t.bytes - 1];
    }
    try {
      ValidateLayout(w);
    } catch (const rtmo::Error&) {
    }
  } catch (const rtmo::Error&) {
  }
  return 0;
}
