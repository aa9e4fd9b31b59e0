// Assembles one Ops table per compiled Highway target and picks the best one for this
// CPU once (Best()). Compiled once per target through hwy/foreach_target.h.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/dispatch.cc"
#include <atomic>

#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/ops.h"
#include "kernels/simd/parts-inl.h"

HWY_BEFORE_NAMESPACE();
namespace rtmo::kernels::HWY_NAMESPACE {

// This target's table, built on first use (thread-safe static initialisation).
const Ops* TargetOps() {
  static const Ops ops = [] {
    Ops o = Reference();  // every entry is overwritten below; this only avoids nulls
    o.target_name = hwy::TargetName(HWY_TARGET);
    FillGemmOps(&o);
    FillConvOps(&o);
    FillAttentionOps(&o);
    FillEltwiseOps(&o);
    return o;
  }();
  return &ops;
}

}  // namespace rtmo::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace rtmo::kernels {

namespace {

struct TargetEntry {
  int64_t target;
  const Ops* (*get)();
};

// Compiled targets, best first (the order of Highway's target bits). Which targets are
// compiled is set by HWY_DISABLED_TARGETS in kernels/CMakeLists.txt.
constexpr TargetEntry kTargets[] = {
#if HWY_TARGETS & HWY_AVX3_DL
    {HWY_AVX3_DL, &N_AVX3_DL::TargetOps},
#endif
#if HWY_TARGETS & HWY_AVX3
    {HWY_AVX3, &N_AVX3::TargetOps},
#endif
#if HWY_TARGETS & HWY_AVX2
    {HWY_AVX2, &N_AVX2::TargetOps},
#endif
#if HWY_TARGETS & HWY_SSE4
    {HWY_SSE4, &N_SSE4::TargetOps},
#endif
#if HWY_TARGETS & HWY_SSSE3
    {HWY_SSSE3, &N_SSSE3::TargetOps},
#endif
#if HWY_TARGETS & HWY_SVE2_128
    {HWY_SVE2_128, &N_SVE2_128::TargetOps},  // SVE2 known to be 128-bit (e.g. Neoverse N2)
#endif
#if HWY_TARGETS & HWY_SVE_256
    {HWY_SVE_256, &N_SVE_256::TargetOps},  // SVE known to be 256-bit (e.g. Neoverse V1)
#endif
#if HWY_TARGETS & HWY_SVE2
    {HWY_SVE2, &N_SVE2::TargetOps},
#endif
#if HWY_TARGETS & HWY_SVE
    {HWY_SVE, &N_SVE::TargetOps},
#endif
#if HWY_TARGETS & HWY_NEON
    {HWY_NEON, &N_NEON::TargetOps},
#endif
#if HWY_TARGETS & HWY_EMU128
    {HWY_EMU128, &N_EMU128::TargetOps},
#endif
#if HWY_TARGETS & HWY_SCALAR
    {HWY_SCALAR, &N_SCALAR::TargetOps},
#endif
};

}  // namespace

namespace {
std::atomic<uint64_t> g_threads_seen{0};
}  // namespace

uint64_t KernelThreadsSeen() { return g_threads_seen.load(std::memory_order_relaxed); }
void ResetKernelThreadsSeen() { g_threads_seen.store(0, std::memory_order_relaxed); }
void NoteKernelThread(int thread_num) {
  if (thread_num >= 0 && thread_num < 64) {
    g_threads_seen.fetch_or(uint64_t{1} << thread_num, std::memory_order_relaxed);
  }
}

const Ops& Best() {
  // The first (best) compiled target this CPU supports; cached so the choice is made exactly
  // once per process. Not HWY_DYNAMIC_DISPATCH: in Highway 1.0.3 any earlier direct call
  // of hwy::SupportedTargets() (AllSupported(), ForTarget(), the gtest target list) leaves
  // the dispatcher initialised with the targets from *before* the vector-length-specific
  // ones are added, so on a 128-bit SVE2 CPU it would then pick SVE2 instead of SVE2_128
  // (and SVE instead of SVE_256 on 256-bit SVE) depending on call order.
  static const Ops* const best = AllSupported().front();  // never empty: the scalar baseline
  return *best;
}

const Ops* ForTarget(int64_t hwy_target) {
  if ((hwy::SupportedTargets() & hwy_target) == 0) return nullptr;
  for (const TargetEntry& e : kTargets) {
    if (e.target == hwy_target) return e.get();
  }
  return nullptr;
}

std::vector<const Ops*> AllSupported() {
  std::vector<const Ops*> out;
  const int64_t supported = hwy::SupportedTargets();
  for (const TargetEntry& e : kTargets) {
    if (supported & e.target) out.push_back(e.get());
  }
  return out;
}

}  // namespace rtmo::kernels
#endif  // HWY_ONCE
