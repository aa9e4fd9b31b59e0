#include "rtmo/cli/trace.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

namespace rtmo::cli {
namespace {

struct Stats {
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  double sum = 0;
  size_t finite = 0, nonfinite = 0;
  void Add(double v) {
    if (!std::isfinite(v)) {
      ++nonfinite;
      return;
    }
    min = std::min(min, v);
    max = std::max(max, v);
    sum += v;
    ++finite;
  }
};

template <typename T>
Stats Of(const void* data, size_t n) {
  Stats s;
  const T* p = static_cast<const T*>(data);
  for (size_t i = 0; i < n; ++i) s.Add(static_cast<double>(p[i]));
  return s;
}

}  // namespace

void TraceObserver::OnTensor(const TensorView& t) {
  std::string shape = "[";
  for (size_t i = 0; i < t.shape.size(); ++i) {
    shape += (i ? ", " : "") + std::to_string(t.shape[i]);
  }
  shape += "]";
  const size_t n = t.numel();
  const char* type = t.type == ElemType::kF64 ? "f64" : t.type == ElemType::kI64 ? "i64" : "f32";
  const Stats s = t.type == ElemType::kF64   ? Of<double>(t.data, n)
                  : t.type == ElemType::kI64 ? Of<int64_t>(t.data, n)
                                             : Of<float>(t.data, n);
  std::fprintf(out_, "trace: %-20.*s %s %-18s", static_cast<int>(t.name.size()), t.name.data(),
               type, shape.c_str());
  if (s.finite > 0) {
    std::fprintf(out_, " min %-12.6g mean %-12.6g max %-12.6g", s.min,
                 s.sum / static_cast<double>(s.finite), s.max);
  } else if (n == 0) {
    std::fprintf(out_, " (empty)");
  }
  if (s.nonfinite > 0) std::fprintf(out_, " NON-FINITE %zu of %zu", s.nonfinite, n);
  std::fprintf(out_, "\n");
}

}  // namespace rtmo::cli
