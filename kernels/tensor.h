// Simple owning buffers and non-owning views over float32 tensors.
//
// Layout convention for the whole project: dense, row-major, batch 1, feature maps CHW
// (channel-major). A channel slice of a CHW map is therefore a contiguous sub-range,
// which is what makes concat/split free: producers write straight into the slice.
#ifndef RTMO_KERNELS_TENSOR_H_
#define RTMO_KERNELS_TENSOR_H_

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>

namespace rtmo::kernels {

// Alignment of every buffer we allocate: a cache line, and at least the widest vector
// (AVX-512 = 64 B; SVE up to 256 B is only needed for aligned loads we never require).
inline constexpr size_t kAlign = 64;

// An owning, 64-byte-aligned, uninitialised array of T. Move-only.
template <typename T>
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t n) { Resize(n); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  AlignedBuffer(AlignedBuffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept {
    if (this != &o) {
      std::free(data_);
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  ~AlignedBuffer() { std::free(data_); }

  // Reallocates (contents are lost) unless the size is unchanged.
  void Resize(size_t n) {
    if (n == size_) return;
    std::free(data_);
    data_ = nullptr;
    size_ = 0;
    if (n == 0) return;
    const size_t bytes = (n * sizeof(T) + kAlign - 1) / kAlign * kAlign;
    data_ = static_cast<T*>(std::aligned_alloc(kAlign, bytes));
    if (data_ == nullptr) throw std::bad_alloc();
    size_ = n;
  }
  void Zero() {
    if (size_) std::memset(static_cast<void*>(data_), 0, size_ * sizeof(T));
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return size_; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }

 private:
  T* data_ = nullptr;
  size_t size_ = 0;
};

// A CHW feature map view (batch 1) over elements of type T (float on the float32 path,
// double on the float64 verification path). Not owning.
template <typename T>
struct Map {
  T* data = nullptr;
  int c = 0, h = 0, w = 0;
  size_t plane() const { return static_cast<size_t>(h) * w; }
  size_t size() const { return static_cast<size_t>(c) * plane(); }
  T* channel(int ch) const { return data + static_cast<size_t>(ch) * plane(); }
  // Channels [c0, c0 + n): contiguous because the layout is CHW.
  Map Slice(int c0, int n) const { return Map{channel(c0), n, h, w}; }
  // A read-only view of the same map (functions take inputs as Map<const T>).
  operator Map<const T>() const
    requires(!std::is_const_v<T>)
  {
    return Map<const T>{data, c, h, w};
  }
};
using MapView = Map<float>;

// A row-major matrix view: rows x cols with a row stride (leading dimension) `ld` >= cols,
// so a column block of a wider matrix (e.g. q, k, v of one packed projection) is a Mat too.
// Not owning.
template <typename T>
struct Mat {
  T* data = nullptr;
  int rows = 0, cols = 0, ld = 0;
  T* row(int r) const { return data + static_cast<size_t>(r) * ld; }
  // Columns [c0, c0 + n) of every row.
  Mat Cols(int c0, int n) const { return Mat{data + c0, rows, n, ld}; }
  // Rows [r0, r0 + n).
  Mat Rows(int r0, int n) const { return Mat{row(r0), n, cols, ld}; }
  operator Mat<const T>() const
    requires(!std::is_const_v<T>)
  {
    return Mat<const T>{data, rows, cols, ld};
  }
};

// A dense row-major matrix over `data` (ld = cols).
template <typename T>
Mat<T> Dense(T* data, int rows, int cols) {
  return Mat<T>{data, rows, cols, cols};
}

}  // namespace rtmo::kernels

#endif  // RTMO_KERNELS_TENSOR_H_
