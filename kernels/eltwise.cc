// SIMD kernels that are not matrix products: element-wise maps, pooling, resampling,
// LayerNorm and softmax. Compiled once per Highway target (hwy/foreach_target.h); the
// target's Ops table is filled by FillEltwiseOps. Every output element is computed by
// the same instruction sequence whatever the thread count, so results are bitwise
// independent of OpenMP scheduling.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/eltwise.cc"
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/ops.h"
#include "kernels/parallel.h"
#include "kernels/simd/math-inl.h"
#include "kernels/simd/parts-inl.h"

HWY_BEFORE_NAMESPACE();
namespace rtmo::kernels::HWY_NAMESPACE {
namespace {
namespace hn = hwy::HWY_NAMESPACE;
using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

// Element-wise work is split into chunks of this many floats (a multiple of every vector
// width) so that threads never share a cache line and each chunk amortises the fork.
// Every parallel loop in this file hands out fixed pieces (chunks, rows, channels)
// dynamically through the kernels' pool (kernels/parallel.h): the pieces never depend on
// the thread count, and a thread the OS has descheduled (a busy machine) does not keep a
// fixed half of the work waiting for it.
constexpr size_t kChunk = 16384;
// Row-wise kernels (layernorm, softmax) hand out this many rows per task.
constexpr int kRowsPerTask = 8;

// y[i] = f(x[i]) over n floats, chunked over OpenMP threads.
template <class F>
void ParallelMap(const float* x, size_t n, float* y, F f) {
  const DF d;
  const int64_t chunks = static_cast<int64_t>((n + kChunk - 1) / kChunk);
  ParallelFor(chunks, MaxThreads(), [&](int64_t c, int) {
    const size_t i0 = static_cast<size_t>(c) * kChunk;
    MapUnary(d, x + i0, std::min(kChunk, n - i0), y + i0, f);
  });
}

void SiluSimd(const float* x, size_t n, float* y) {
  ParallelMap(x, n, y, [](DF d, VF v) HWY_ATTR { return VSiLU(d, v); });
}
void SigmoidSimd(const float* x, size_t n, float* y) {
  ParallelMap(x, n, y, [](DF d, VF v) HWY_ATTR { return VSigmoid(d, v); });
}
void ExpSimd(const float* x, size_t n, float* y) {
  ParallelMap(x, n, y, [](DF d, VF v) HWY_ATTR { return VExp(d, v); });
}
void GeluSimd(const float* x, size_t n, float* y) {
  ParallelMap(x, n, y, [](DF d, VF v) HWY_ATTR { return VGelu(d, v); });
}
void Relu2Simd(const float* x, size_t n, float* y) {
  ParallelMap(x, n, y, [](DF d, VF v) HWY_ATTR {
    const VF r = hn::Max(v, hn::Zero(d));
    return hn::Mul(r, r);
  });
}

// y = a + b.
void AddSimd(const float* a, const float* b, size_t n, float* y) {
  const DF d;
  const int64_t chunks = static_cast<int64_t>((n + kChunk - 1) / kChunk);
  ParallelFor(chunks, MaxThreads(), [&](int64_t c, int) {
    const size_t i0 = static_cast<size_t>(c) * kChunk;
    MapBinary(d, a + i0, b + i0, std::min(kChunk, n - i0), y + i0,
              [](DF, VF u, VF v) HWY_ATTR { return hn::Add(u, v); });
  });
}

// Sum of x[0, n) in vector lanes, then across lanes: a fixed order for a given target.
float VecSum(DF d, const float* x, size_t n) {
  const size_t N = hn::Lanes(d);
  VF s = hn::Zero(d);
  size_t i = 0;
  for (; i + N <= n; i += N) s = hn::Add(s, hn::LoadU(d, x + i));
  if (i < n) s = hn::Add(s, LoadTail(d, x + i, n - i));
  return hn::GetLane(hn::SumOfLanes(d, s));
}

// x: [rows, dim] -> y: [rows, dim]; mean, then biased variance of (x - mean) (two passes
// for accuracy), y = (x - mean) * rsqrt(var + eps) * gamma + beta.
void LayerNormSimd(const float* x, int rows, int dim, const float* gamma, const float* beta,
                   float eps, float* y) {
  const DF d;
  const size_t N = hn::Lanes(d);
  // Tasks of kRowsPerTask rows.
  const int64_t tasks = (rows + kRowsPerTask - 1) / kRowsPerTask;
  ParallelFor(tasks, rows * dim > 65536 ? MaxThreads() : 1, [&](int64_t task, int) {
    const int r0 = static_cast<int>(task) * kRowsPerTask;
    for (int r = r0; r < std::min(rows, r0 + kRowsPerTask); ++r) {
      const float* xr = x + static_cast<size_t>(r) * dim;
      float* yr = y + static_cast<size_t>(r) * dim;
      const float mean = VecSum(d, xr, dim) / static_cast<float>(dim);
      const VF vmean = hn::Set(d, mean);
      VF ss = hn::Zero(d);
      size_t i = 0;
      for (; i + N <= static_cast<size_t>(dim); i += N) {
        const VF c = hn::Sub(hn::LoadU(d, xr + i), vmean);
        ss = hn::MulAdd(c, c, ss);
      }
      if (i < static_cast<size_t>(dim)) {
        const auto m = hn::FirstN(d, dim - i);
        const VF c = hn::IfThenElseZero(m, hn::Sub(LoadTail(d, xr + i, dim - i), vmean));
        ss = hn::MulAdd(c, c, ss);
      }
      const float var = hn::GetLane(hn::SumOfLanes(d, ss)) / static_cast<float>(dim);
      const VF inv = hn::Set(d, 1.0f / std::sqrt(var + eps));
      i = 0;
      for (; i + N <= static_cast<size_t>(dim); i += N) {
        const VF c = hn::Mul(hn::Sub(hn::LoadU(d, xr + i), vmean), inv);
        hn::StoreU(hn::MulAdd(c, hn::LoadU(d, gamma + i), hn::LoadU(d, beta + i)), d, yr + i);
      }
      if (i < static_cast<size_t>(dim)) {
        const size_t t = dim - i;
        const VF c = hn::Mul(hn::Sub(LoadTail(d, xr + i, t), vmean), inv);
        StoreTail(d, hn::MulAdd(c, LoadTail(d, gamma + i, t), LoadTail(d, beta + i, t)), yr + i, t);
      }
    }
  });
}

}  // namespace

// One softmax row in place: exp(x - max) / sum. Also used by the attention kernel.
void SoftmaxRow(float* xr, size_t cols) {
  const DF d;
  const size_t N = hn::Lanes(d);
  VF vmax = hn::Set(d, -std::numeric_limits<float>::infinity());
  size_t i = 0;
  for (; i + N <= cols; i += N) vmax = hn::Max(vmax, hn::LoadU(d, xr + i));
  const auto mt = hn::FirstN(d, cols - i);
  if (i < cols) {
    vmax = hn::Max(vmax, hn::IfThenElse(mt, LoadTail(d, xr + i, cols - i), vmax));
  }
  vmax = hn::MaxOfLanes(d, vmax);
  VF vsum = hn::Zero(d);
  for (i = 0; i + N <= cols; i += N) {
    const VF e = VExp(d, hn::Sub(hn::LoadU(d, xr + i), vmax));
    vsum = hn::Add(vsum, e);
    hn::StoreU(e, d, xr + i);
  }
  if (i < cols) {
    const VF e = hn::IfThenElseZero(mt, VExp(d, hn::Sub(LoadTail(d, xr + i, cols - i), vmax)));
    vsum = hn::Add(vsum, e);
    StoreTail(d, e, xr + i, cols - i);
  }
  const VF inv = hn::Div(hn::Set(d, 1.0f), hn::SumOfLanes(d, vsum));
  for (i = 0; i + N <= cols; i += N) hn::StoreU(hn::Mul(hn::LoadU(d, xr + i), inv), d, xr + i);
  if (i < cols) StoreTail(d, hn::Mul(LoadTail(d, xr + i, cols - i), inv), xr + i, cols - i);
}

namespace {

void SoftmaxSimd(float* x, int rows, int cols) {
  const int64_t tasks = (rows + kRowsPerTask - 1) / kRowsPerTask;
  const int threads = static_cast<int64_t>(rows) * cols > 65536 ? MaxThreads() : 1;
  ParallelFor(tasks, threads, [&](int64_t task, int) {
    const int r0 = static_cast<int>(task) * kRowsPerTask;
    for (int r = r0; r < std::min(rows, r0 + kRowsPerTask); ++r) {
      SoftmaxRow(x + static_cast<size_t>(r) * cols, cols);
    }
  });
}

// x: [c, h, w] -> y: [c, h, w]. The k x k max is separable and max is exact, so it is
// done as a vertical pass (x -> y) then a horizontal pass in place on each y row through
// a row buffer padded with -inf (the padding never wins, as in PyTorch).
// Rows narrower than a vector (the SPP's 13 and 20 px maps on AVX-512) run as vectors too,
// not as scalar tails (k maxes per pixel and pass, 1.6% of rtmo-t's time): a row's last
// vector reads on into the next row (lanes that are never stored), except where that
// would pass the end of x, and only its valid lanes are stored.
void MaxPoolSameSimd(const float* x, int c, int h, int w, int k, float* y) {
  const DF d;
  const size_t N = hn::Lanes(d);
  const int r = k / 2;
  const float ninf = -std::numeric_limits<float>::infinity();
  const size_t total = static_cast<size_t>(c) * h * w, wn = static_cast<size_t>(w);
  const int threads = total > 16384 ? MaxThreads() : 1;
  ParallelFor(c, threads, [&](int64_t task, int) {
    const int ch = static_cast<int>(task);
    // Per-thread row buffer; grows once, reused for every row and call. Its N floats past
    // the right padding take the last vector's unused lanes.
    thread_local std::vector<float> row;
    if (row.size() < static_cast<size_t>(w + 2 * r) + N) row.resize(w + 2 * r + N);
    const size_t plane0 = static_cast<size_t>(ch) * h * w;
    float* yc = y + plane0;
    for (int i = 0; i < h; ++i) {
      const int i0 = std::max(0, i - r), i1 = std::min(h - 1, i + r);
      float* yr = yc + static_cast<size_t>(i) * w;
      // Vertical max over rows [i0, i1] into the padded row buffer.
      float* buf = row.data() + r;
      for (size_t j = 0; j < wn; j += N) {
        const size_t n = std::min(N, wn - j);
        auto load = [&](int ii) HWY_ATTR {
          const size_t at = plane0 + static_cast<size_t>(ii) * wn + j;
          return at + N <= total ? hn::LoadU(d, x + at) : LoadTail(d, x + at, n);
        };
        VF m = load(i0);
        for (int ii = i0 + 1; ii <= i1; ++ii) m = hn::Max(m, load(ii));
        hn::StoreU(m, d, buf + j);
      }
      for (int p = 0; p < r; ++p) {
        row[p] = ninf;
        buf[w + p] = ninf;
      }
      // Horizontal max over [j - r, j + r] of the padded buffer.
      for (size_t j = 0; j < wn; j += N) {
        VF m = hn::LoadU(d, row.data() + j);
        for (int t = 1; t < k; ++t) m = hn::Max(m, hn::LoadU(d, row.data() + j + t));
        StoreUpTo(d, m, yr + j, std::min(N, wn - j));
      }
    }
  });
}

// x: [c, h, w] -> y: [c, 2h, 2w], nearest: each input pixel becomes a 2x2 block.
void Upsample2xSimd(const float* x, int c, int h, int w, float* y) {
  const int64_t rows = static_cast<int64_t>(c) * h;
  constexpr int64_t kRowsPerUpsampleTask = 32;
  const int64_t tasks = (rows + kRowsPerUpsampleTask - 1) / kRowsPerUpsampleTask;
  ParallelFor(tasks, rows * w > 16384 ? MaxThreads() : 1, [&](int64_t task, int) {
    const int64_t r0 = task * kRowsPerUpsampleTask;
    for (int64_t rr = r0; rr < std::min(rows, r0 + kRowsPerUpsampleTask); ++rr) {
      const float* xr = x + rr * w;
      float* y0 = y + rr * 4 * w;  // output rows 2i and 2i+1 of the same channel
      float* y1 = y0 + 2 * w;
      for (int j = 0; j < w; ++j) y0[2 * j] = y0[2 * j + 1] = xr[j];
      std::memcpy(y1, y0, sizeof(float) * 2 * w);
    }
  });
}

// Highway's contrib Cos / Sin (documented 3 ULP on [-39000, 39000]); the tail through a
// zero-padded vector so that every element takes the same instruction sequence.
void CosSinSimd(const float* x, size_t n, float* y_cos, float* y_sin) {
  const DF d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const VF v = hn::LoadU(d, x + i);
    hn::StoreU(hn::Cos(d, v), d, y_cos + i);
    hn::StoreU(hn::Sin(d, v), d, y_sin + i);
  }
  if (i < n) {
    const VF v = LoadTail(d, x + i, n - i);
    StoreTail(d, hn::Cos(d, v), y_cos + i, n - i);
    StoreTail(d, hn::Sin(d, v), y_sin + i, n - i);
  }
}

}  // namespace

void FillEltwiseOps(Ops* ops) {
  ops->maxpool_same = MaxPoolSameSimd;
  ops->upsample2x = Upsample2xSimd;
  ops->silu = SiluSimd;
  ops->sigmoid = SigmoidSimd;
  ops->exp = ExpSimd;
  ops->gelu = GeluSimd;
  ops->relu2 = Relu2Simd;
  ops->add = AddSimd;
  ops->layernorm = LayerNormSimd;
  ops->softmax = SoftmaxSimd;
  ops->cos_sin = CosSinSimd;
}

}  // namespace rtmo::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
