// The naive reference twins of every kernel in ops.h: plain loops, double accumulation,
// no blocking, no SIMD, no threads. They define what the optimized kernels must compute
// and are what the randomized tests compare against. Written to be read, not to be fast.
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/check.h"
#include "kernels/ops.h"

namespace rtmo::kernels {
namespace {

// The reference "packing" keeps the PyTorch layout unchanged.
constexpr int kRefPackTag = -1;

double ActD(double v, Act act) {
  switch (act) {
    case Act::kNone:
      return v;
    case Act::kSiLU:
      return v / (1.0 + std::exp(-v));
  }
  return v;
}

// C[M,N] = act(A[M,K] * op(B) + bias[N]).
void GemmRef(int M, int N, int K, const float* A, int lda, const float* B, int ldb, bool trans_b,
             const float* bias, Act act, float* C, int ldc, Scratch*) {
  CheckGemmArgs("reference gemm", M, N, K, A, lda, B, ldb, trans_b, C, ldc);
  for (int m = 0; m < M; ++m) {
    for (int n = 0; n < N; ++n) {
      double acc = 0.0;
      for (int k = 0; k < K; ++k) {
        const double b =
            trans_b ? B[static_cast<size_t>(n) * ldb + k] : B[static_cast<size_t>(k) * ldb + n];
        acc += static_cast<double>(A[static_cast<size_t>(m) * lda + k]) * b;
      }
      if (bias) acc += bias[n];
      C[static_cast<size_t>(m) * ldc + n] = static_cast<float>(ActD(acc, act));
    }
  }
}

// w: [out_c, in_c/groups, kh, kw] -> copied unchanged.
void PackConvRef(const ConvShape& s, const float* w, const float* bias, PackedConv* out) {
  CheckConvShape("reference pack_conv", s, w);
  const size_t nw = static_cast<size_t>(s.out_c) * (s.in_c / s.groups) * s.kh * s.kw;
  out->shape = s;
  out->weights.Resize(nw);
  for (size_t i = 0; i < nw; ++i) out->weights[i] = w[i];
  out->bias.Resize(s.out_c);
  for (int i = 0; i < s.out_c; ++i) out->bias[i] = bias ? bias[i] : 0.0f;
  out->target_tag = kRefPackTag;
  out->winograd = false;
}

// x: [in_c, h, w] -> y: [out_c, OutH(h), OutW(w)], zero padding.
void Conv2dRef(const PackedConv& p, const float* x, int h, int w, Act act, const float* residual,
               float* y, Scratch*) {
  const ConvShape& s = p.shape;
  CheckConvCall("reference conv2d", p, kRefPackTag, x, h, w, y);
  const int oh = s.OutH(h), ow = s.OutW(w);
  const int cig = s.in_c / s.groups, cog = s.out_c / s.groups;
  for (int co = 0; co < s.out_c; ++co) {
    const int g = co / cog;
    for (int oy = 0; oy < oh; ++oy) {
      for (int ox = 0; ox < ow; ++ox) {
        double acc = p.bias[co];
        for (int ci = 0; ci < cig; ++ci) {
          for (int ky = 0; ky < s.kh; ++ky) {
            const int iy = oy * s.stride - s.pad + ky;
            if (iy < 0 || iy >= h) continue;
            for (int kx = 0; kx < s.kw; ++kx) {
              const int ix = ox * s.stride - s.pad + kx;
              if (ix < 0 || ix >= w) continue;
              const float wv =
                  p.weights[((static_cast<size_t>(co) * cig + ci) * s.kh + ky) * s.kw + kx];
              const float xv = x[(static_cast<size_t>(g * cig + ci) * h + iy) * w + ix];
              acc += static_cast<double>(wv) * xv;
            }
          }
        }
        const size_t o = (static_cast<size_t>(co) * oh + oy) * ow + ox;
        double v = ActD(acc, act);
        if (residual) v += residual[o];
        y[o] = static_cast<float>(v);
      }
    }
  }
}

// x: [c, h, w] -> y: [c, h, w]; padded taps are skipped (= -inf padding).
void MaxPoolSameRef(const float* x, int c, int h, int w, int k, float* y) {
  const int r = k / 2;
  for (int ch = 0; ch < c; ++ch) {
    const float* xc = x + static_cast<size_t>(ch) * h * w;
    float* yc = y + static_cast<size_t>(ch) * h * w;
    for (int i = 0; i < h; ++i) {
      for (int j = 0; j < w; ++j) {
        float m = -std::numeric_limits<float>::infinity();
        for (int di = -r; di <= r; ++di) {
          for (int dj = -r; dj <= r; ++dj) {
            const int ii = i + di, jj = j + dj;
            if (ii < 0 || ii >= h || jj < 0 || jj >= w) continue;
            m = std::max(m, xc[ii * w + jj]);
          }
        }
        yc[i * w + j] = m;
      }
    }
  }
}

// x: [c, h, w] -> y: [c, 2h, 2w].
void Upsample2xRef(const float* x, int c, int h, int w, float* y) {
  for (int ch = 0; ch < c; ++ch) {
    for (int i = 0; i < 2 * h; ++i) {
      for (int j = 0; j < 2 * w; ++j) {
        y[(static_cast<size_t>(ch) * 2 * h + i) * 2 * w + j] =
            x[(static_cast<size_t>(ch) * h + i / 2) * w + j / 2];
      }
    }
  }
}

void SiluRef(const float* x, size_t n, float* y) {
  for (size_t i = 0; i < n; ++i) {
    const double v = x[i];
    y[i] = static_cast<float>(v / (1.0 + std::exp(-v)));
  }
}

void SigmoidRef(const float* x, size_t n, float* y) {
  for (size_t i = 0; i < n; ++i) y[i] = static_cast<float>(1.0 / (1.0 + std::exp(-double{x[i]})));
}

void ExpRef(const float* x, size_t n, float* y) {
  for (size_t i = 0; i < n; ++i) y[i] = static_cast<float>(std::exp(double{x[i]}));
}

// x/2 * (1 + erf(x/sqrt2)) written with erfc so that large negative x keeps its relative
// precision (1 + erf(x) cancels catastrophically there).
void GeluRef(const float* x, size_t n, float* y) {
  for (size_t i = 0; i < n; ++i) {
    const double v = x[i];
    y[i] = static_cast<float>(0.5 * v * std::erfc(-v / std::sqrt(2.0)));
  }
}

void Relu2Ref(const float* x, size_t n, float* y) {
  for (size_t i = 0; i < n; ++i) {
    const double v = x[i] > 0.0f ? x[i] : 0.0;
    y[i] = static_cast<float>(v * v);
  }
}

void AddRef(const float* a, const float* b, size_t n, float* y) {
  for (size_t i = 0; i < n; ++i) y[i] = static_cast<float>(double{a[i]} + double{b[i]});
}

// x: [rows, dim] -> y: [rows, dim], biased variance.
void LayerNormRef(const float* x, int rows, int dim, const float* gamma, const float* beta,
                  float eps, float* y) {
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + static_cast<size_t>(r) * dim;
    float* yr = y + static_cast<size_t>(r) * dim;
    double mean = 0.0;
    for (int i = 0; i < dim; ++i) mean += xr[i];
    mean /= dim;
    double var = 0.0;
    for (int i = 0; i < dim; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    var /= dim;
    const double inv = 1.0 / std::sqrt(var + eps);
    for (int i = 0; i < dim; ++i) {
      yr[i] = static_cast<float>((xr[i] - mean) * inv * gamma[i] + beta[i]);
    }
  }
}

// x: [rows, cols] in place.
void SoftmaxRef(float* x, int rows, int cols) {
  for (int r = 0; r < rows; ++r) {
    float* xr = x + static_cast<size_t>(r) * cols;
    double mx = -std::numeric_limits<double>::infinity();
    for (int i = 0; i < cols; ++i) mx = std::max(mx, double{xr[i]});
    double sum = 0.0;
    for (int i = 0; i < cols; ++i) sum += std::exp(xr[i] - mx);
    for (int i = 0; i < cols; ++i) xr[i] = static_cast<float>(std::exp(xr[i] - mx) / sum);
  }
}

// q, k, v: [T, heads*dim] (row stride ld_qkv) -> out: [T, heads*dim] (row stride ld_out).
void AttentionRef(const float* q, const float* k, const float* v, int ld_qkv, int tokens, int heads,
                  int dim, float* out, int ld_out, Scratch*) {
  CheckAttentionArgs("reference attention", q, k, v, ld_qkv, tokens, heads, dim, out, ld_out);
  const double scale = 1.0 / std::sqrt(static_cast<double>(dim));
  std::vector<double> p(tokens);
  for (int h = 0; h < heads; ++h) {
    for (int i = 0; i < tokens; ++i) {
      const float* qi = q + static_cast<size_t>(i) * ld_qkv + h * dim;
      double mx = -std::numeric_limits<double>::infinity();
      for (int j = 0; j < tokens; ++j) {
        const float* kj = k + static_cast<size_t>(j) * ld_qkv + h * dim;
        double s = 0.0;
        for (int d = 0; d < dim; ++d) s += static_cast<double>(qi[d]) * kj[d];
        p[j] = s * scale;
        mx = std::max(mx, p[j]);
      }
      double sum = 0.0;
      for (int j = 0; j < tokens; ++j) {
        p[j] = std::exp(p[j] - mx);
        sum += p[j];
      }
      for (int d = 0; d < dim; ++d) {
        double acc = 0.0;
        for (int j = 0; j < tokens; ++j) {
          acc += p[j] * v[static_cast<size_t>(j) * ld_qkv + h * dim + d];
        }
        out[static_cast<size_t>(i) * ld_out + h * dim + d] = static_cast<float>(acc / sum);
      }
    }
  }
}

// cos and sin in double, rounded once to float.
void CosSinRef(const float* x, size_t n, float* y_cos, float* y_sin) {
  for (size_t i = 0; i < n; ++i) {
    y_cos[i] = static_cast<float>(std::cos(static_cast<double>(x[i])));
    y_sin[i] = static_cast<float>(std::sin(static_cast<double>(x[i])));
  }
}

}  // namespace

const Ops& Reference() {
  static const Ops ops = {
      .target_name = "reference",
      .gemm = GemmRef,
      .pack_conv = PackConvRef,
      .conv2d = Conv2dRef,
      .maxpool_same = MaxPoolSameRef,
      .upsample2x = Upsample2xRef,
      .silu = SiluRef,
      .sigmoid = SigmoidRef,
      .exp = ExpRef,
      .gelu = GeluRef,
      .relu2 = Relu2Ref,
      .add = AddRef,
      .layernorm = LayerNormRef,
      .softmax = SoftmaxRef,
      .attention = AttentionRef,
      .cos_sin = CosSinRef,
  };
  return ops;
}

}  // namespace rtmo::kernels
