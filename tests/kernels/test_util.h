// Shared helpers of the kernel tests: deterministic random data, misaligned buffers,
// ULP distance, and tolerance checks that name their metric and reject NaN/Inf.
#ifndef RTMO_TESTS_KERNELS_TEST_UTIL_H_
#define RTMO_TESTS_KERNELS_TEST_UTIL_H_

#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/tensor.h"

namespace rtmo::kernels::test {

inline constexpr double kEps = std::numeric_limits<float>::epsilon();  // 2^-23

// A float array whose first element sits `offset` floats past a 64-byte boundary, with
// guard floats after the end (checked by GuardsIntact) to catch out-of-bounds writes.
class TestArray {
 public:
  static constexpr size_t kGuard = 64;
  static constexpr float kGuardValue = 12345.678f;
  TestArray(size_t n, size_t offset) : n_(n), offset_(offset), buf_(n + offset + kGuard) {
    for (size_t i = 0; i < buf_.size(); ++i) buf_[i] = kGuardValue;
  }
  float* data() { return buf_.data() + offset_; }
  const float* data() const { return buf_.data() + offset_; }
  size_t size() const { return n_; }
  float& operator[](size_t i) { return data()[i]; }
  float operator[](size_t i) const { return data()[i]; }
  bool GuardsIntact() const {
    for (size_t i = 0; i < offset_; ++i) {
      if (buf_[i] != kGuardValue) return false;
    }
    for (size_t i = offset_ + n_; i < buf_.size(); ++i) {
      if (buf_[i] != kGuardValue) return false;
    }
    return true;
  }
  std::vector<float> ToVector() const { return std::vector<float>(data(), data() + n_); }

 private:
  size_t n_, offset_;
  AlignedBuffer<float> buf_;
};

// n floats that end exactly where an inaccessible page begins, so that a read past the end
// faults (the test dies) instead of landing in TestArray's guard, which only writes are
// checked against. ok() is false if the pages could not be mapped.
class PageEndArray {
 public:
  explicit PageEndArray(size_t n) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t bytes = (n * sizeof(float) + page - 1) / page * page;
    size_ = bytes + page;
    void* p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return;
    base_ = static_cast<char*>(p);
    if (mprotect(base_ + bytes, page, PROT_NONE) != 0) return;
    data_ = reinterpret_cast<float*>(base_ + bytes) - n;
  }
  ~PageEndArray() {
    if (base_ != nullptr) munmap(base_, size_);
  }
  PageEndArray(const PageEndArray&) = delete;
  PageEndArray& operator=(const PageEndArray&) = delete;
  bool ok() const { return data_ != nullptr; }
  float* data() { return data_; }

 private:
  size_t size_ = 0;
  char* base_ = nullptr;
  float* data_ = nullptr;
};

// Deterministic inputs: std::mt19937 is fully specified by the standard; we map its
// 32-bit output to floats ourselves (std::uniform_real_distribution is not portable).
class Rng {
 public:
  explicit Rng(uint32_t seed) : gen_(seed) {}
  float Uniform(float lo, float hi) {
    return lo + (hi - lo) * static_cast<float>(gen_() >> 8) * (1.0f / 16777216.0f);
  }
  int Int(int lo, int hi) { return lo + static_cast<int>(gen_() % (hi - lo + 1)); }
  void Fill(float* p, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; ++i) p[i] = Uniform(lo, hi);
  }

 private:
  std::mt19937 gen_;
};

// Distance in units in the last place between two floats (monotone integer mapping;
// +0 and -0 are equal).
inline uint64_t UlpDistance(float a, float b) {
  auto key = [](float f) {
    int32_t i;
    std::memcpy(&i, &f, sizeof(i));
    return i < 0 ? -static_cast<int64_t>(i & 0x7FFFFFFF) : static_cast<int64_t>(i);
  };
  const int64_t d = key(a) - key(b);
  return static_cast<uint64_t>(d < 0 ? -d : d);
}

// Checks |got - want| <= tol[i] element-wise. `metric` describes how tol was derived and
// appears in the failure message with the worst element. NaN/Inf in `got` always fail.
inline ::testing::AssertionResult AllWithin(const float* got, const float* want,
                                            const std::vector<double>& tol, size_t n,
                                            const std::string& metric) {
  size_t worst = 0, bad = 0;
  double worst_ratio = 0.0;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(got[i])) {
      return ::testing::AssertionFailure()
             << "non-finite output " << got[i] << " at " << i << " (reference " << want[i] << ")";
    }
    const double err = std::fabs(static_cast<double>(got[i]) - want[i]);
    const double ratio = tol[i] > 0 ? err / tol[i] : (err > 0 ? INFINITY : 0.0);
    if (ratio > 1.0) ++bad;
    if (ratio > worst_ratio) {
      worst_ratio = ratio;
      worst = i;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << bad << " of " << n << " elements exceed the bound [" << metric << "]; worst at "
         << worst << ": got " << got[worst] << ", reference " << want[worst] << ", |err| "
         << std::fabs(static_cast<double>(got[worst]) - want[worst]) << " > tol " << tol[worst]
         << " (x" << worst_ratio << ")";
}

inline ::testing::AssertionResult BitwiseEqual(const std::vector<float>& a,
                                               const std::vector<float>& b,
                                               const std::string& what) {
  if (a.size() != b.size()) return ::testing::AssertionFailure() << what << ": size differs";
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0) {
      return ::testing::AssertionFailure()
             << what << ": first difference at " << i << ": " << a[i] << " vs " << b[i];
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace rtmo::kernels::test

#endif  // RTMO_TESTS_KERNELS_TEST_UTIL_H_
