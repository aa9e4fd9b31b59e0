// libFuzzer target for the .rtmo reader: any byte string must either parse into a fully
// valid Weights or throw rtmo::Error -- never crash, hang, leak or read out of bounds.
// Run with tools/fuzz_weights.sh SECONDS (builds with clang, seeds from weights_seeds).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "rtmo/error.h"
#include "rtmo/io/weights.h"
#include "rtmo/net/network.h"

namespace {

// Parses `size` bytes; on success touches the first and last byte of every tensor (ASan
// flags any bad pointer/size) and runs ValidateLayout.
void ParseOne(const uint8_t* data, size_t size) {
  try {
    const rtmo::Weights w = rtmo::Weights::FromBytes("fuzz.rtmo", data, size);
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
}

}  // namespace

// Each input twice: as is (the checksum checks themselves, and version-1 inputs, which have
// none), and with its version-2 checksums recomputed (RecomputeWeightsChecksums, which
// itself parses hostile bytes), so that mutations reach the structural checks behind the
// checksums instead of stopping at the first CRC mismatch.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ParseOne(data, size);
  std::vector<uint8_t> resealed(data, data + size);
  rtmo::RecomputeWeightsChecksums(&resealed);
  if (resealed.size() >= rtmo::kWeightsHeaderSize &&
      std::memcmp(resealed.data(), data, size) != 0) {
    ParseOne(resealed.data(), resealed.size());
  }
  return 0;
}
