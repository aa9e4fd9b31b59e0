// Helpers for the golden tests: a minimal .npy reader (NPY 1.0/2.0, little-endian float32,
// float64 or int64, C order: what numpy.save writes) and the comparison metrics.
#ifndef RTMO_TESTS_RTMO_GOLDEN_UTIL_H_
#define RTMO_TESTS_RTMO_GOLDEN_UTIL_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace rtmo::testing {

struct Npy {
  std::vector<int64_t> shape;
  bool is_int64 = false;
  bool is_f64 = false;     // '<f8' (else '<f4' or '<i8')
  std::vector<double> f;   // float32 or float64 data (float32 widened exactly)
  std::vector<int64_t> i;  // int64 data
  size_t size() const { return is_int64 ? i.size() : f.size(); }
};

inline Npy ReadNpy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open");
  std::vector<char> b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (b.size() < 10 || std::memcmp(b.data(), "\x93NUMPY", 6) != 0) {
    throw std::runtime_error(path + ": not an NPY file");
  }
  const int major = static_cast<unsigned char>(b[6]);
  size_t hlen, off;
  if (major == 1) {
    hlen = static_cast<unsigned char>(b[8]) | static_cast<unsigned char>(b[9]) << 8;
    off = 10;
  } else {
    uint32_t v;
    std::memcpy(&v, b.data() + 8, 4);
    hlen = v;
    off = 12;
  }
  if (off + hlen > b.size()) throw std::runtime_error(path + ": truncated header");
  const std::string h(b.data() + off, hlen);
  Npy n;
  if (h.find("'<f4'") != std::string::npos) {
    n.is_int64 = false;
  } else if (h.find("'<f8'") != std::string::npos) {
    n.is_f64 = true;
  } else if (h.find("'<i8'") != std::string::npos) {
    n.is_int64 = true;
  } else {
    throw std::runtime_error(path + ": unsupported dtype in header " + h);
  }
  if (h.find("'fortran_order': False") == std::string::npos) {
    throw std::runtime_error(path + ": Fortran order not supported");
  }
  const size_t s0 = h.find("'shape': (") + 10, s1 = h.find(')', s0);
  size_t count = 1;
  for (size_t p = s0; p < s1;) {
    while (p < s1 && (h[p] == ' ' || h[p] == ',')) ++p;
    if (p >= s1) break;
    size_t q = p;
    while (q < s1 && h[q] != ',') ++q;
    n.shape.push_back(std::stoll(h.substr(p, q - p)));
    count *= static_cast<size_t>(n.shape.back());
    p = q;
  }
  const size_t data = off + hlen, elem = n.is_int64 || n.is_f64 ? 8 : 4;
  if (data + count * elem != b.size()) throw std::runtime_error(path + ": wrong data size");
  if (n.is_int64) {
    n.i.resize(count);
    if (count) std::memcpy(n.i.data(), b.data() + data, count * 8);
  } else if (n.is_f64) {
    n.f.resize(count);
    if (count) std::memcpy(n.f.data(), b.data() + data, count * 8);
  } else {
    std::vector<float> f(count);
    if (count) std::memcpy(f.data(), b.data() + data, count * 4);
    n.f.assign(f.begin(), f.end());
  }
  return n;
}

// The metrics of every tensor comparison: max |a - b|, that relative to max |golden|
// ("rel"), and the relative L2 error ||a - b|| / ||golden|| ("rel_l2", the float64 tests'
// metric). NaN or Inf anywhere makes them infinite (and the comparison fail).
struct Diff {
  double max_abs = 0, golden_max = 0;
  double sq_diff = 0, sq_golden = 0;
  double rel() const { return golden_max > 0 ? max_abs / golden_max : max_abs; }
  double rel_l2() const {
    return sq_golden > 0 ? std::sqrt(sq_diff / sq_golden) : std::sqrt(sq_diff);
  }
};

template <typename T>
Diff Compare(const double* golden, const T* actual, size_t n) {
  Diff d;
  for (size_t k = 0; k < n; ++k) {
    const double g = golden[k], a = static_cast<double>(actual[k]);
    if (!std::isfinite(a) || !std::isfinite(g)) {
      d.max_abs = INFINITY;
      d.sq_diff = INFINITY;
      continue;
    }
    d.max_abs = std::max(d.max_abs, std::fabs(g - a));
    d.golden_max = std::max(d.golden_max, std::fabs(g));
    d.sq_diff += (g - a) * (g - a);
    d.sq_golden += g * g;
  }
  return d;
}

}  // namespace rtmo::testing

#endif  // RTMO_TESTS_RTMO_GOLDEN_UTIL_H_
