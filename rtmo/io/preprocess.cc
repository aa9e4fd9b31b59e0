// Letterbox pre-processing: a from-the-algorithm re-implementation of OpenCV 4.6's
// fixed-point bilinear warpAffine (modules/imgproc/src/imgwarp.cpp: warpAffine,
// hal::warpAffine, WarpAffineInvoker, remap -> remapBilinear, initInterTab2D), so that our
// network input equals the official pipeline's bit for bit.
//
// The algorithm, as OpenCV runs it for CV_8UC3, INTER_LINEAR, BORDER_CONSTANT:
//  1. Invert the forward matrix M in float64 (closed-form 2x2 inverse, below).
//  2. Source coordinates in fixed point with AB_BITS = 10 fractional bits:
//       adelta[x] = round(Mi[0]*x*1024), bdelta[x] = round(Mi[3]*x*1024)       (per column)
//       X0 = round((Mi[1]*y + Mi[2])*1024) + 16,  Y0 = round((Mi[4]*y + Mi[5])*1024) + 16
//     (round = cvRound: to nearest, ties to even; 16 = half of 1/32 pixel in 1/1024 units),
//       X = (X0 + adelta[x]) >> 5,  Y = (Y0 + bdelta[x]) >> 5      (now 1/32-pixel units)
//       sx = sat16(X >> 5), sy = sat16(Y >> 5), fx = X & 31, fy = Y & 31.
//  3. Weights from a 32x32 table of 2x2 kernels (INTER_REMAP_COEF_BITS = 15):
//       w = round(32768 * [(1-b)(1-a), (1-b)a, b(1-a), ba]),  a = fx/32, b = fy/32,
//     stored as int16; the (0,0) kernel saturates 32768 -> 32767 and OpenCV's sum correction
//     moves the missing unit to the bottom-right tap: {32767, 0, 0, 1}.
//  4. dst = sat_u8((p00*w0 + p01*w1 + p10*w2 + p11*w3 + (1 << 14)) >> 15) per channel, where
//     a tap outside the source image takes the border value (BORDER_CONSTANT).
// OpenCV's SIMD paths (warpAffineBlockline SSE4.1/AVX2, RemapVec_8u) compute the same
// integers (wrapping int32 adds, saturating packs), so the scalar description is the spec.
#include "rtmo/io/preprocess.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "kernels/parallel.h"
#include "rtmo/error.h"

namespace rtmo {
namespace {

constexpr int kInterBits = 5;                   // OpenCV INTER_BITS
constexpr int kInterTabSize = 1 << kInterBits;  // 32 sub-pixel positions per axis
constexpr int kAbBits = 10;                     // max(10, INTER_BITS) in WarpAffineInvoker
constexpr double kAbScale = 1 << kAbBits;       // 1024
constexpr int kRoundDelta = (1 << kAbBits) / kInterTabSize / 2;  // 16
constexpr int kCoefBits = 15;                                    // INTER_REMAP_COEF_BITS
constexpr int kCoefScale = 1 << kCoefBits;                       // 32768

// cvRound(double) on x86-64 (cvtsd2si): nearest, ties to even; NaN or out-of-range -> INT_MIN.
int CvRound(double v) {
  const double r = std::nearbyint(v);
  if (!(r >= -2147483648.0 && r <= 2147483647.0)) return std::numeric_limits<int>::min();
  return static_cast<int>(r);
}

int16_t SaturateInt16(int v) { return static_cast<int16_t>(std::clamp(v, -32768, 32767)); }

// int32 addition with two's-complement wrap-around, as the SIMD paths (and the scalar path
// on real hardware) compute it; avoids signed-overflow UB for absurd matrices.
int32_t WrapAdd(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
}

// The 32x32 table of 2x2 integer kernels (initInterTab2D(INTER_LINEAR, fixpt=true)).
struct BilinearTable {
  int16_t w[kInterTabSize * kInterTabSize][4];
  BilinearTable() {
    for (int fy = 0; fy < kInterTabSize; ++fy) {
      for (int fx = 0; fx < kInterTabSize; ++fx) {
        // OpenCV computes the 1-D weights in float ((1 - i/32), i/32), multiplies them in
        // float and rounds v*32768 to int16 with saturation. All of these are exact in
        // float (<= 12 significant bits), so integer arithmetic gives the same numbers.
        const float ay[2] = {1.f - fy * (1.f / kInterTabSize), fy * (1.f / kInterTabSize)};
        const float ax[2] = {1.f - fx * (1.f / kInterTabSize), fx * (1.f / kInterTabSize)};
        int16_t* k = w[fy * kInterTabSize + fx];
        int sum = 0;
        for (int i = 0; i < 2; ++i) {
          for (int j = 0; j < 2; ++j) {
            const float v = ay[i] * ax[j] * kCoefScale;
            const int iv = static_cast<int>(std::lrint(std::clamp(v, -32768.f, 32767.f)));
            k[i * 2 + j] = static_cast<int16_t>(iv);
            sum += iv;
          }
        }
        // OpenCV's correction when the int16 kernel does not sum to 1 << 15. Only the
        // (0,0) kernel needs it ({32767,0,0,0}); OpenCV's search for the largest/smallest
        // tap starts at index ksize/2 = 1 of each axis, i.e. tap 3 (bottom-right), and
        // finds nothing larger there, so tap 3 receives the missing unit.
        if (sum != kCoefScale) k[3] = static_cast<int16_t>(k[3] - (sum - kCoefScale));
      }
    }
  }
};

// row(y) for every y in [0, rows), in fixed blocks of kRowsPerTask rows on the kernels'
// pool (the threads the network runs on next; an OpenMP team would spin against them,
// kernels/parallel.h). Rows are independent, so the result does not depend on the threads.
constexpr int kRowsPerTask = 16;
template <class Row>
void ForEachRowBlock(int rows, const Row& row) {
  const int64_t tasks = (rows + kRowsPerTask - 1) / kRowsPerTask;
  kernels::ParallelFor(tasks, kernels::MaxThreads(), [&](int64_t task, int /*slot*/) {
    const int end = std::min(rows, static_cast<int>(task + 1) * kRowsPerTask);
    for (int y = static_cast<int>(task) * kRowsPerTask; y < end; ++y) row(y);
  });
}

const BilinearTable& Table() {
  static const BilinearTable table;
  return table;
}

// OpenCV's inversion of a 2x3 affine matrix (cv::warpAffine without WARP_INVERSE_MAP),
// operation for operation so that the float64 results are identical.
std::array<double, 6> InvertAffine(const std::array<double, 6>& m) {
  std::array<double, 6> r = m;
  double d = r[0] * r[4] - r[1] * r[3];
  d = d != 0 ? 1. / d : 0;
  const double a11 = r[4] * d, a22 = r[0] * d;
  r[0] = a11;
  r[1] *= -d;
  r[3] *= -d;
  r[4] = a22;
  const double b1 = -r[0] * r[2] - r[1] * r[5];
  const double b2 = -r[3] * r[2] - r[4] * r[5];
  r[2] = b1;
  r[5] = b2;
  return r;
}

// Where a destination column (or row) samples the source, for the separable path.
enum class Reach : uint8_t {
  kOutside,  // both taps (s and s+1) outside the image: the pixel is the border value
  kPartial,  // one tap inside: per-tap border handling
  kInside,   // both taps inside: no checks
};

Reach Classify(int s, int size) {
  if (s >= 0 && s < size - 1) return Reach::kInside;
  if (s + 1 < 0 || s >= size) return Reach::kOutside;
  return Reach::kPartial;
}

// Everything the row kernel needs; built once per call.
struct WarpPlan {
  const uint8_t* src;
  int src_w, src_h;
  int dst_w;
  uint8_t border;
  std::array<double, 6> inv;
  std::vector<int32_t> adelta, bdelta;  // per destination column, 1/1024 pixel
  // Separable case (no rotation/shear, e.g. the letterbox): Mi[1] == Mi[3] == 0, so the
  // column coordinates do not depend on the row. Precomputed once per column.
  bool separable = false;
  std::vector<int16_t> col_sx;
  std::vector<uint8_t> col_fx;
  std::vector<Reach> col_reach;
  std::vector<uint32_t> col_off;  // 3 * sx for inside columns
};

// OpenCV's remap asserts every side < SHRT_MAX (its int16 coordinates); the official
// pipeline therefore fails on such images, and so do we, with a clear message.
constexpr int kMaxSide = 32767;

WarpPlan MakePlan(const uint8_t* src, int src_w, int src_h, const std::array<double, 6>& m,
                  int dst_w, int dst_h, uint8_t border) {
  if (src_w >= kMaxSide || src_h >= kMaxSide || dst_w >= kMaxSide || dst_h >= kMaxSide) {
    throw Error("warpAffine: image " + std::to_string(src_w) + "x" + std::to_string(src_h) +
                " -> " + std::to_string(dst_w) + "x" + std::to_string(dst_h) +
                ": every side must be below 32767 px (OpenCV's remap limit, which the official "
                "pipeline hits too)");
  }
  WarpPlan p;
  p.src = src;
  p.src_w = src_w;
  p.src_h = src_h;
  p.dst_w = dst_w;
  p.border = border;
  p.inv = InvertAffine(m);
  p.adelta.resize(dst_w);
  p.bdelta.resize(dst_w);
  for (int x = 0; x < dst_w; ++x) {
    p.adelta[x] = CvRound(p.inv[0] * x * kAbScale);
    p.bdelta[x] = CvRound(p.inv[3] * x * kAbScale);
  }
  p.separable = p.inv[1] == 0 && p.inv[3] == 0;
  if (p.separable) {
    // X0 is then the same for every row (Mi[1]*y is +-0), and bdelta is 0.
    const int32_t x0 = WrapAdd(CvRound((p.inv[1] * 0 + p.inv[2]) * kAbScale), kRoundDelta);
    p.col_sx.resize(dst_w);
    p.col_fx.resize(dst_w);
    p.col_reach.resize(dst_w);
    p.col_off.resize(dst_w);
    for (int x = 0; x < dst_w; ++x) {
      const int32_t xx = WrapAdd(x0, p.adelta[x]) >> (kAbBits - kInterBits);
      p.col_sx[x] = SaturateInt16(xx >> kInterBits);
      p.col_fx[x] = static_cast<uint8_t>(xx & (kInterTabSize - 1));
      p.col_reach[x] = Classify(p.col_sx[x], src_w);
      p.col_off[x] = p.col_reach[x] == Reach::kInside ? 3u * p.col_sx[x] : 0u;
    }
  }
  return p;
}

// One tap of the constant-border path: the pixel, or the border value outside the image.
inline int Tap(const WarpPlan& p, int sx, int sy, int c) {
  if (sx < 0 || sx >= p.src_w || sy < 0 || sy >= p.src_h) return p.border;
  return p.src[(static_cast<size_t>(sy) * p.src_w + sx) * 3 + c];
}

inline uint8_t Blend(int v00, int v01, int v10, int v11, const int16_t* w) {
  const int sum = v00 * w[0] + v01 * w[1] + v10 * w[2] + v11 * w[3];
  // FixedPtCast<int, uchar, 15>: saturate_cast<uchar>((sum + (1 << 14)) >> 15).
  return static_cast<uint8_t>(std::clamp((sum + (1 << (kCoefBits - 1))) >> kCoefBits, 0, 255));
}

// Output of one destination row: interleaved uint8 (what warpAffine returns) or the three
// float planes of the network input. Both receive exactly the same uint8 values.
struct BgrRowSink {
  uint8_t* row;
  void Put(int x, uint8_t b, uint8_t g, uint8_t r) const {
    row[3 * x] = b;
    row[3 * x + 1] = g;
    row[3 * x + 2] = r;
  }
};
struct PlanarFloatSink {
  float* b;
  float* g;
  float* r;
  void Put(int x, uint8_t vb, uint8_t vg, uint8_t vr) const {
    b[x] = vb;
    g[x] = vg;
    r[x] = vr;
  }
};

// The general pixel: any (sx, sy), taps outside the image take the border value. OpenCV
// splits this into an "inlier" path (0 <= sx < w-1, 0 <= sy < h-1, no checks), a fully
// outside path (dst = border) and a per-tap path; all three equal this formula, because
// the weights sum to exactly 1 << 15.
template <typename Sink>
inline void GeneralPixel(const WarpPlan& p, int sx, int sy, int a, int x, const Sink& out) {
  const int16_t* w = Table().w[a];
  uint8_t v[3];
  for (int c = 0; c < 3; ++c) {
    v[c] = Blend(Tap(p, sx, sy, c), Tap(p, sx + 1, sy, c), Tap(p, sx, sy + 1, c),
                 Tap(p, sx + 1, sy + 1, c), w);
  }
  out.Put(x, v[0], v[1], v[2]);
}

// Destination row y.
template <typename Sink>
void WarpRow(const WarpPlan& p, int y, const Sink& out) {
  const int32_t x0 = WrapAdd(CvRound((p.inv[1] * y + p.inv[2]) * kAbScale), kRoundDelta);
  const int32_t y0 = WrapAdd(CvRound((p.inv[4] * y + p.inv[5]) * kAbScale), kRoundDelta);
  if (!p.separable) {
    for (int x = 0; x < p.dst_w; ++x) {
      const int32_t xx = WrapAdd(x0, p.adelta[x]) >> (kAbBits - kInterBits);
      const int32_t yy = WrapAdd(y0, p.bdelta[x]) >> (kAbBits - kInterBits);
      const int a = (yy & (kInterTabSize - 1)) * kInterTabSize + (xx & (kInterTabSize - 1));
      GeneralPixel(p, SaturateInt16(xx >> kInterBits), SaturateInt16(yy >> kInterBits), a, x, out);
    }
    return;
  }
  // Separable: the row's sy, fy are shared by every column.
  const int32_t yy = y0 >> (kAbBits - kInterBits);
  const int sy = SaturateInt16(yy >> kInterBits);
  const int fy = yy & (kInterTabSize - 1);
  const Reach row = Classify(sy, p.src_h);
  const uint8_t bv = p.border;
  if (row == Reach::kOutside) {  // letterbox padding rows
    for (int x = 0; x < p.dst_w; ++x) out.Put(x, bv, bv, bv);
    return;
  }
  const uint8_t* r0 =
      row == Reach::kInside ? p.src + static_cast<size_t>(sy) * p.src_w * 3 : nullptr;
  const uint8_t* r1 = r0 ? r0 + static_cast<size_t>(p.src_w) * 3 : nullptr;
  // For inside pixels the table kernel factorises: for (fx, fy) != (0, 0) it is exactly
  // 32 * [(32-fy)(32-fx), (32-fy)fx, fy(32-fx), fy fx], so
  //   (sum + 2^14) >> 15 == (v + 2^9) >> 10,  v = (32-fy)*h0 + fy*h1,  h = (32-fx)*p0 + fx*p1.
  // For (0, 0) the table is {32767, 0, 0, 1} and both forms give p00 exactly (the extra
  // p11 - p00 is below 2^14). Results are non-negative and <= 255: no saturation needed.
  const uint32_t wy1 = static_cast<uint32_t>(fy), wy0 = kInterTabSize - wy1;
  for (int x = 0; x < p.dst_w; ++x) {
    const Reach col = p.col_reach[x];
    if (col == Reach::kOutside) {
      out.Put(x, bv, bv, bv);  // all four taps are border: the weights sum to 1 << 15
    } else if (col == Reach::kInside && r0 != nullptr) {
      const uint32_t wx1 = p.col_fx[x], wx0 = kInterTabSize - wx1;
      const uint8_t* a = r0 + p.col_off[x];
      const uint8_t* b = r1 + p.col_off[x];
      uint8_t v[3];
      for (int c = 0; c < 3; ++c) {
        const uint32_t h0 = wx0 * a[c] + wx1 * a[c + 3];
        const uint32_t h1 = wx0 * b[c] + wx1 * b[c + 3];
        v[c] = static_cast<uint8_t>((wy0 * h0 + wy1 * h1 + (1u << 9)) >> 10);
      }
      out.Put(x, v[0], v[1], v[2]);
    } else {
      GeneralPixel(p, p.col_sx[x], sy, fy * kInterTabSize + p.col_fx[x], x, out);
    }
  }
}

void CheckImage(const Image& image, const char* what) {
  if (image.width <= 0 || image.height <= 0 ||
      image.bgr.size() != static_cast<size_t>(image.width) * image.height * 3) {
    throw Error(std::string(what) + ": invalid image (" + std::to_string(image.width) + "x" +
                std::to_string(image.height) + ", " + std::to_string(image.bgr.size()) +
                " bytes; expected width*height*3 bytes with positive sizes)");
  }
}

void CheckLetterbox(const Image& image, const Letterbox& lb, const char* what) {
  CheckImage(image, what);
  if (lb.image_w != image.width || lb.image_h != image.height || lb.input_w <= 0 ||
      lb.input_h <= 0) {
    throw Error(std::string(what) + ": letterbox made for a " + std::to_string(lb.image_w) + "x" +
                std::to_string(lb.image_h) + " image, given " + std::to_string(image.width) + "x" +
                std::to_string(image.height));
  }
}

}  // namespace

Letterbox MakeLetterbox(int image_w, int image_h, int input_w, int input_h) {
  if (image_w <= 0 || image_h <= 0 || input_w <= 0 || input_h <= 0) {
    throw Error("MakeLetterbox: sizes must be positive, got image " + std::to_string(image_w) +
                "x" + std::to_string(image_h) + ", input " + std::to_string(input_w) + "x" +
                std::to_string(input_h));
  }
  Letterbox lb;
  lb.image_w = image_w;
  lb.image_h = image_h;
  lb.input_w = input_w;
  lb.input_h = input_h;
  const double w = image_w, h = image_h, in_w = input_w, in_h = input_h;
  const double s = std::min(in_w / w, in_h / h);
  lb.matrix = {s, 0, in_w / 2 - s * w / 2, 0, s, in_h / 2 - s * h / 2};
  // bottomup_transforms.py:_get_input_size (resize_mode 'fit'): ratio = w/h,
  // rsz_w = min(W, H*ratio), rsz_h = min(H, W/ratio); then l.576-583.
  const double ratio = w / h;
  const double rsz_w = std::min(in_w, in_h * ratio);
  const double rsz_h = std::min(in_h, in_w / ratio);
  lb.input_center = {static_cast<float>(w / 2), static_cast<float>(h / 2)};
  lb.input_center64 = {w / 2, h / 2};
  lb.input_scale64 = {w * in_w / rsz_w, h * in_h / rsz_h};
  lb.input_center = {static_cast<float>(lb.input_center64[0]),
                     static_cast<float>(lb.input_center64[1])};
  lb.input_scale = {static_cast<float>(lb.input_scale64[0]),
                    static_cast<float>(lb.input_scale64[1])};
  return lb;
}

std::array<double, 2> MapToImage(const Letterbox& lb, double x_in, double y_in) {
  // numpy: float32 / int -> float64; float32 arrays promote; 0.5 * float32 stays float32.
  const float half_x = 0.5f * lb.input_scale[0], half_y = 0.5f * lb.input_scale[1];
  const double x = x_in / lb.input_w * static_cast<double>(lb.input_scale[0]) +
                   static_cast<double>(lb.input_center[0]) - static_cast<double>(half_x);
  const double y = y_in / lb.input_h * static_cast<double>(lb.input_scale[1]) +
                   static_cast<double>(lb.input_center[1]) - static_cast<double>(half_y);
  return {x, y};
}

std::array<double, 2> MapToImage64(const Letterbox& lb, double x_in, double y_in) {
  const double x =
      x_in / lb.input_w * lb.input_scale64[0] + lb.input_center64[0] - 0.5 * lb.input_scale64[0];
  const double y =
      y_in / lb.input_h * lb.input_scale64[1] + lb.input_center64[1] - 0.5 * lb.input_scale64[1];
  return {x, y};
}

void WarpAffineBilinear(const uint8_t* src, int src_w, int src_h, const std::array<double, 6>& m,
                        int dst_w, int dst_h, uint8_t border, uint8_t* dst) {
  if (src == nullptr || src_w <= 0 || src_h <= 0 || dst_w <= 0 || dst_h <= 0) {
    throw Error("WarpAffineBilinear: empty source or destination (" + std::to_string(src_w) + "x" +
                std::to_string(src_h) + " -> " + std::to_string(dst_w) + "x" +
                std::to_string(dst_h) + ")");
  }
  const WarpPlan plan = MakePlan(src, src_w, src_h, m, dst_w, dst_h, border);
  ForEachRowBlock(dst_h, [&](int y) {
    WarpRow(plan, y, BgrRowSink{dst + static_cast<size_t>(y) * dst_w * 3});
  });
}

void LetterboxBgr(const Image& image, const Letterbox& lb, uint8_t* out) {
  CheckLetterbox(image, lb, "LetterboxBgr");
  WarpAffineBilinear(image.bgr.data(), image.width, image.height, lb.matrix, lb.input_w, lb.input_h,
                     kLetterboxPad, out);
}

void LetterboxChw(const Image& image, const Letterbox& lb, float* out) {
  CheckLetterbox(image, lb, "LetterboxChw");
  const WarpPlan plan = MakePlan(image.bgr.data(), image.width, image.height, lb.matrix, lb.input_w,
                                 lb.input_h, kLetterboxPad);
  const int w = lb.input_w, h = lb.input_h;
  const size_t plane = static_cast<size_t>(w) * h;
  ForEachRowBlock(h, [&](int y) {
    float* b = out + static_cast<size_t>(y) * w;
    WarpRow(plan, y, PlanarFloatSink{b, b + plane, b + 2 * plane});
  });
}

LetterboxedInput Preprocess(const Image& image, int input_w, int input_h) {
  CheckImage(image, "Preprocess");
  LetterboxedInput in;
  in.letterbox = MakeLetterbox(image.width, image.height, input_w, input_h);
  in.chw.Resize(static_cast<size_t>(3) * input_w * input_h);
  LetterboxChw(image, in.letterbox, in.chw.data());
  return in;
}

}  // namespace rtmo
