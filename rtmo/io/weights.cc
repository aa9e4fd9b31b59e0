#include "rtmo/io/weights.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <numeric>
#include <string>
#include <utility>

#include "rtmo/error.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace rtmo {

// The format is little-endian and tensors are used in place: a big-endian host would need
// a byte-swapping copy, which nobody has asked for yet.
static_assert(std::endian::native == std::endian::little, "rtmo.cpp needs a little-endian host");

namespace {

std::string Hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llX", static_cast<unsigned long long>(v));
  return buf;
}

// Printable rendering of untrusted bytes for messages: 'RTMOWGTS' or '\x00\x01...'.
std::string Printable(const uint8_t* p, size_t n) {
  std::string s = "'";
  for (size_t i = 0; i < n; ++i) {
    if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\'' && p[i] != '\\') {
      s += static_cast<char>(p[i]);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", p[i]);
      s += buf;
    }
  }
  return s + "'";
}

uint64_t AlignUp(uint64_t v) { return (v + (kWeightsAlign - 1)) / kWeightsAlign * kWeightsAlign; }

// --- CRC-32 -------------------------------------------------------------------------
// Slicing-by-8: eight 256-entry tables let the loop consume 8 bytes per step with
// independent lookups (about 1.5-2.5 GB/s on one core, against ~0.4 GB/s bytewise), so
// verifying rtmo-l's 170 MB stays a fraction of the model's load time (weights/FORMAT.md
// gives the measurement). Table k maps a byte to its CRC contribution k bytes further on.
using CrcTables = std::array<std::array<uint32_t, 256>, 8>;

constexpr CrcTables MakeCrcTables() {
  CrcTables t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
    t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; ++i) {
    for (int k = 1; k < 8; ++k) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFF];
  }
  return t;
}
constexpr CrcTables kCrc = MakeCrcTables();

// Bits of a float32 whose exponent is all ones: Inf or NaN.
constexpr uint32_t kF32ExpMask = 0x7F800000u;

// Sections of a version-2 header (weights/FORMAT.md).
constexpr uint64_t kMetaCrcAt = 64;
constexpr uint64_t kReservedAt = 68;
constexpr uint64_t kHeaderCrcAt = 76;

std::string Crc(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08X", v);
  return buf;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define RTMO_CRC_PCLMUL 1
// CRC-32 by carry-less multiplication (PCLMULQDQ): the buffer is folded 64 bytes at a time
// into four 128-bit lanes, the lanes into one, then Barrett-reduced to 32 bits (Gopal et
// al., "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ Instruction", Intel
// 2009). The constants are x^k mod P for the reflected polynomial P = 0x104C11DB7:
// k1 = x^(4*128+32), k2 = x^(4*128-32), k3 = x^(128+32), k4 = x^(128-32), k5 = x^64 (all
// mod P, bit-reflected and shifted left by one), mu = floor(x^64 / P) and P' (reflected).
// About 10x the table-driven speed; the bit-at-a-time twin in tests/rtmo/weights_test.cc
// checks it on every length and alignment. `c` is the register (not inverted); `n` a
// multiple of 16, at least 64.
#define RTMO_PCLMUL_TARGET __attribute__((target("pclmul,sse4.1")))
RTMO_PCLMUL_TARGET inline __m128i Load128(const uint8_t* q) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
}
// x * k (both 64-bit halves, carry-less) folded onto `next`.
RTMO_PCLMUL_TARGET inline __m128i Fold128(__m128i x, __m128i k, __m128i next) {
  const __m128i lo = _mm_clmulepi64_si128(x, k, 0x00);
  const __m128i hi = _mm_clmulepi64_si128(x, k, 0x11);
  return _mm_xor_si128(_mm_xor_si128(hi, lo), next);
}

RTMO_PCLMUL_TARGET uint32_t CrcFoldPclmul(const uint8_t* p, size_t n, uint32_t c) {
  const __m128i k1k2 = _mm_set_epi64x(0x01c6e41596, 0x0154442bd4);
  const __m128i k3k4 = _mm_set_epi64x(0x00ccaa009e, 0x01751997d0);
  const __m128i k5k0 = _mm_set_epi64x(0, 0x0163cd6124);
  const __m128i poly = _mm_set_epi64x(0x01f7011641, 0x01db710641);
  __m128i x1 = _mm_xor_si128(Load128(p), _mm_cvtsi32_si128(static_cast<int>(c)));
  __m128i x2 = Load128(p + 16), x3 = Load128(p + 32), x4 = Load128(p + 48);
  p += 64;
  n -= 64;
  while (n >= 64) {
    x1 = Fold128(x1, k1k2, Load128(p));
    x2 = Fold128(x2, k1k2, Load128(p + 16));
    x3 = Fold128(x3, k1k2, Load128(p + 32));
    x4 = Fold128(x4, k1k2, Load128(p + 48));
    p += 64;
    n -= 64;
  }
  x1 = Fold128(x1, k3k4, x2);
  x1 = Fold128(x1, k3k4, x3);
  x1 = Fold128(x1, k3k4, x4);
  while (n >= 16) {
    x1 = Fold128(x1, k3k4, Load128(p));
    p += 16;
    n -= 16;
  }
  // 128 -> 64 bits.
  const __m128i mask32 = _mm_setr_epi32(~0, 0, ~0, 0);
  __m128i t = _mm_clmulepi64_si128(x1, k3k4, 0x10);
  x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), t);
  t = _mm_srli_si128(x1, 4);
  x1 = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x1, mask32), k5k0, 0x00), t);
  // Barrett reduction 64 -> 32 bits.
  t = _mm_clmulepi64_si128(_mm_and_si128(x1, mask32), poly, 0x10);
  t = _mm_clmulepi64_si128(_mm_and_si128(t, mask32), poly, 0x00);
  return static_cast<uint32_t>(_mm_extract_epi32(_mm_xor_si128(x1, t), 1));
}

bool HavePclmul() {
  static const bool have = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
  return have;
}
#endif

}  // namespace

uint32_t Crc32(const void* data, size_t size, uint32_t crc) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  uint32_t c = ~crc;
#ifdef RTMO_CRC_PCLMUL
  if (size >= 64 && HavePclmul()) {
    const size_t n = size & ~size_t{15};
    c = CrcFoldPclmul(p, n, c);
    p += n;
    size -= n;
  }
#endif
  while (size >= 8) {
    uint32_t lo, hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
    lo ^= c;
    c = kCrc[7][lo & 0xFF] ^ kCrc[6][(lo >> 8) & 0xFF] ^ kCrc[5][(lo >> 16) & 0xFF] ^
        kCrc[4][lo >> 24] ^ kCrc[3][hi & 0xFF] ^ kCrc[2][(hi >> 8) & 0xFF] ^
        kCrc[1][(hi >> 16) & 0xFF] ^ kCrc[0][hi >> 24];
    p += 8;
    size -= 8;
  }
  while (size-- > 0) c = (c >> 8) ^ kCrc[0][(c ^ *p++) & 0xFF];
  return ~c;
}

namespace {

// Bounds-checked little-endian reader over [pos, end) of the tensor table. Error messages
// are built only on failure (the table has hundreds of entries; parsing stays cheap).
class Cursor {
 public:
  Cursor(const uint8_t* base, uint64_t pos, uint64_t end, const std::string& file)
      : base_(base), pos_(pos), end_(end), file_(file) {}
  uint64_t pos() const { return pos_; }

  // The entry being read, for messages; `name` is empty until it has been read.
  void SetEntry(uint64_t index, std::string_view name) {
    entry_ = index;
    name_ = name;
  }

  // `field` names what is being read ("dtype", "dims", ...).
  void Need(uint64_t n, const char* field) const {
    if (n > end_ - pos_) {
      std::string where = "entry " + std::to_string(entry_);
      if (!name_.empty()) where += " (tensor '" + std::string(name_) + "')";
      throw Error(file_ + ": tensor table: " + where + " " + field + " at offset " +
                  std::to_string(pos_) + ": expected " + std::to_string(n) +
                  " more bytes inside the table (ends at " + std::to_string(end_) + "), found " +
                  std::to_string(end_ - pos_));
    }
  }
  template <typename T>
  T Read(const char* field) {
    Need(sizeof(T), field);
    T v;
    std::memcpy(&v, base_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  const uint8_t* Bytes(uint64_t n, const char* field) {
    Need(n, field);
    const uint8_t* p = base_ + pos_;
    pos_ += n;
    return p;
  }

 private:
  const uint8_t* base_;
  uint64_t pos_, end_;
  const std::string& file_;
  uint64_t entry_ = 0;
  std::string_view name_;
};

template <typename T>
T ReadAt(const uint8_t* base, uint64_t off) {
  T v;
  std::memcpy(&v, base + off, sizeof(T));
  return v;
}

// --- config block -------------------------------------------------------------------

// One field of ModelConfig in the config block: its key, and how to print/parse it.
struct Field {
  const char* key;
  std::function<std::string(const ModelConfig&)> get;
  // Returns false if `value` does not parse; the caller builds the message.
  std::function<bool(ModelConfig&, std::string_view value)> set;
  const char* expected;  // for messages: "an integer", "3 integers", ...
};

std::string FloatText(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip form
  return std::string(buf, r.ptr);
}

bool ParseInt(std::string_view s, int& out) {
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}
bool ParseFloat(std::string_view s, double& out) {
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && std::isfinite(out);
}
// n space-separated integers.
bool ParseInts(std::string_view s, int* out, int n) {
  for (int i = 0; i < n; ++i) {
    const size_t sp = s.find(' ');
    std::string_view tok = s.substr(0, sp);
    if (!ParseInt(tok, out[i])) return false;
    if (i + 1 < n) {
      if (sp == std::string_view::npos) return false;
      s = s.substr(sp + 1);
    } else if (sp != std::string_view::npos) {
      return false;
    }
  }
  return true;
}

#define RTMO_INT_FIELD(f)                                                                         \
  Field {                                                                                         \
#f, [](const ModelConfig&                                                                     \
               c) { return std::to_string(c.f); },                                                \
                                                [](ModelConfig & c,                               \
                                                   std::string_view                               \
                                                       v) { return ParseInt(v, c.f); },           \
                                                                                     "an integer" \
  }
#define RTMO_FLOAT_FIELD(f)                                                                         \
  Field {                                                                                           \
#f, [](const ModelConfig&                                                                       \
               c) { return FloatText(c.f); },                                                       \
                                           [](ModelConfig & c,                                      \
                                              std::string_view                                      \
                                                  v) { return ParseFloat(v, c.f); },                \
                                                                                  "a finite number" \
  }
#define RTMO_INTS_FIELD(f, n, what)                                                \
  Field {                                                                          \
#f,                                                                              \
        [](const ModelConfig& c) {                                                   \
          std::string s;                                                             \
          for (int i = 0; i < n; ++i) s += (i ? " " : "") + std::to_string(c.f[i]);  \
          return s;                                                                  \
        },                                                                           \
        [](ModelConfig& c, std::string_view v) { return ParseInts(v, c.f, n); }, what \
  }

bool ValidWord(std::string_view v) {
  if (v.size() > 64) return false;
  for (char ch : v) {
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.')) {
      return false;
    }
  }
  return true;
}

const std::vector<Field>& Fields() {
  static const std::vector<Field> fields = {
      Field{"variant", [](const ModelConfig& c) { return c.variant; },
            [](ModelConfig& c, std::string_view v) {
              c.variant = std::string(v);
              return !v.empty() && ValidWord(v);
            },
            "t, s, m or l"},
      Field{"dataset", [](const ModelConfig& c) { return c.dataset; },
            [](ModelConfig& c, std::string_view v) {
              c.dataset = std::string(v);
              return ValidWord(v);
            },
            "a word of [A-Za-z0-9._-] (may be empty)"},
      RTMO_INT_FIELD(input_w),
      RTMO_INT_FIELD(input_h),
      RTMO_INT_FIELD(num_keypoints),
      RTMO_FLOAT_FIELD(widen_factor),
      RTMO_FLOAT_FIELD(deepen_factor),
      RTMO_INT_FIELD(stem_channels),
      RTMO_INTS_FIELD(stage_channels, 4, "4 integers"),
      RTMO_INTS_FIELD(stage_blocks, 4, "4 integers"),
      RTMO_INTS_FIELD(spp_kernels, 3, "3 integers"),
      RTMO_INT_FIELD(neck_hidden),
      RTMO_INT_FIELD(csp_rep_hidden),
      RTMO_INT_FIELD(rep_blocks),
      RTMO_INT_FIELD(encoder_layers),
      RTMO_INT_FIELD(encoder_heads),
      RTMO_INT_FIELD(encoder_ffn),
      RTMO_INT_FIELD(projector_out),
      RTMO_INT_FIELD(head_cls_channels),
      RTMO_INT_FIELD(head_stacked_convs),
      RTMO_INT_FIELD(pose_groups),
      RTMO_INT_FIELD(pose_channels_per_group),
      RTMO_INT_FIELD(pose_vec_channels),
      RTMO_INTS_FIELD(head_strides, 2, "2 integers"),
      RTMO_FLOAT_FIELD(bn_eps_backbone),
      RTMO_FLOAT_FIELD(bn_eps_neck),
      RTMO_FLOAT_FIELD(bn_eps_head),
      RTMO_FLOAT_FIELD(bn_eps_dcc),
      RTMO_FLOAT_FIELD(ln_eps),
      RTMO_INT_FIELD(dcc_feat),
      RTMO_INT_FIELD(gau_expansion),
      RTMO_INT_FIELD(num_bins_x),
      RTMO_INT_FIELD(num_bins_y),
      RTMO_FLOAT_FIELD(dcc_spe_temperature),
      RTMO_FLOAT_FIELD(encoder_pe_temperature),
      RTMO_FLOAT_FIELD(bbox_padding),
  };
  return fields;
}

}  // namespace

size_t DTypeSize(DType t) {
  switch (t) {
    case DType::kF32:
      return 4;
    case DType::kF16:
      return 2;
    case DType::kBF16:
      return 2;
    case DType::kI32:
      return 4;
    case DType::kI64:
      return 8;
    case DType::kU8:
      return 1;
  }
  return 0;
}

std::string DTypeName(DType t) {
  switch (t) {
    case DType::kF32:
      return "float32";
    case DType::kF16:
      return "float16";
    case DType::kBF16:
      return "bfloat16";
    case DType::kI32:
      return "int32";
    case DType::kI64:
      return "int64";
    case DType::kU8:
      return "uint8";
  }
  return "dtype(" + std::to_string(static_cast<uint32_t>(t)) + ")";
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string ConfigToText(const ModelConfig& config) {
  std::string s;
  for (const Field& f : Fields()) {
    const std::string v = f.get(config);
    s += f.key;
    if (!v.empty()) s += " " + v;
    s += "\n";
  }
  return s;
}

ModelConfig ConfigFromText(std::string_view text, const std::string& source) {
  const std::vector<Field>& fields = Fields();
  std::vector<bool> seen(fields.size(), false);
  ModelConfig c;
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const size_t nl = text.find('\n');
    if (nl == std::string_view::npos) {
      throw Error(source + ": config block line " + std::to_string(line_no) +
                  ": expected a line ending in '\\n', found the block's end");
    }
    const std::string_view line = text.substr(0, nl);
    text = text.substr(nl + 1);
    if (!line.empty() && line[0] == '#') continue;  // comment
    const size_t sp = line.find(' ');
    const std::string_view key = line.substr(0, sp);
    const std::string_view value =
        sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
    size_t i = 0;
    while (i < fields.size() && key != fields[i].key) ++i;
    if (i == fields.size()) {
      throw Error(source + ": config block line " + std::to_string(line_no) +
                  ": expected a known key, found " +
                  Printable(reinterpret_cast<const uint8_t*>(key.data()),
                            std::min<size_t>(key.size(), 64)));
    }
    if (seen[i]) {
      throw Error(source + ": config field '" + fields[i].key +
                  "': expected once, found a second time on line " + std::to_string(line_no));
    }
    seen[i] = true;
    if (!fields[i].set(c, value)) {
      throw Error(source + ": config field '" + fields[i].key + "': expected " +
                  fields[i].expected + ", found " +
                  Printable(reinterpret_cast<const uint8_t*>(value.data()),
                            std::min<size_t>(value.size(), 64)));
    }
  }
  for (size_t i = 0; i < fields.size(); ++i) {
    if (!seen[i]) {
      throw Error(source + ": config field '" + fields[i].key + "': expected " +
                  fields[i].expected + ", found nothing (missing)");
    }
  }
  c.Validate(source);
  return c;
}

// --- Weights ------------------------------------------------------------------------

Weights Weights::Open(const std::string& path) {
  Weights w;
  w.path_ = path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw Error(path + ": cannot open: " + std::strerror(errno) + " (expected a .rtmo file)");
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    throw Error(path + ": cannot stat: " + std::strerror(e));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw Error(path + ": is a directory: expected a .rtmo weights file");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(path + ": not a regular file: expected a .rtmo weights file");
  }
  if (st.st_size == 0) {
    ::close(fd);
    throw Error(path + ": empty file (0 bytes): expected a .rtmo file of at least " +
                std::to_string(kWeightsHeaderSizeV1) + " bytes");
  }
  void* p = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
  const int e = errno;
  ::close(fd);  // the mapping keeps the file alive
  if (p == MAP_FAILED) throw Error(path + ": cannot mmap: " + std::strerror(e));
  w.base_ = static_cast<const uint8_t*>(p);
  w.size_ = static_cast<uint64_t>(st.st_size);
  w.mapped_ = true;
  w.Parse();  // on throw, ~Weights unmaps
  return w;
}

Weights Weights::FromBytes(const std::string& name, const void* data, size_t size) {
  Weights w;
  w.path_ = name;
  if (size == 0) {
    throw Error(name + ": empty file (0 bytes): expected a .rtmo file of at least " +
                std::to_string(kWeightsHeaderSizeV1) + " bytes");
  }
  // A 64-byte aligned copy, like a page-aligned mapping.
  void* p = std::aligned_alloc(kWeightsAlign, AlignUp(size));
  if (p == nullptr) throw Error(name + ": out of memory copying " + std::to_string(size) + " B");
  std::memcpy(p, data, size);
  w.base_ = static_cast<const uint8_t*>(p);
  w.size_ = size;
  w.mapped_ = false;
  w.Parse();
  return w;
}

Weights::Weights(Weights&& o) noexcept { *this = std::move(o); }

Weights& Weights::operator=(Weights&& o) noexcept {
  if (this != &o) {
    Release();
    path_ = std::move(o.path_);
    base_ = std::exchange(o.base_, nullptr);
    size_ = std::exchange(o.size_, 0);
    mapped_ = o.mapped_;
    config_ = std::move(o.config_);
    tensors_ = std::move(o.tensors_);
    index_ = std::move(o.index_);
  }
  return *this;
}

Weights::~Weights() { Release(); }

void Weights::Release() {
  if (base_ != nullptr) {
    if (mapped_) {
      ::munmap(const_cast<uint8_t*>(base_), size_);
    } else {
      std::free(const_cast<uint8_t*>(base_));
    }
  }
  base_ = nullptr;
  size_ = 0;
}

void Weights::Parse() {
  const std::string& f = path_;
  auto fail = [&](const std::string& field, const std::string& expected, const std::string& found) {
    throw Error(f + ": " + field + ": expected " + expected + ", found " + found);
  };

  // Header: the 64 bytes common to both versions, then (version 2) the checksums.
  if (size_ < kWeightsHeaderSizeV1) {
    fail("file size", "at least the " + std::to_string(kWeightsHeaderSizeV1) + "-byte header",
         std::to_string(size_) + " bytes (truncated or not a .rtmo file)");
  }
  if (std::memcmp(base_, kWeightsMagic, 8) != 0) {
    fail("magic (bytes 0-7)", Printable(reinterpret_cast<const uint8_t*>(kWeightsMagic), 8),
         Printable(base_, 8) + " (not a .rtmo file)");
  }
  const uint32_t marker = ReadAt<uint32_t>(base_, 8);
  if (marker != kWeightsEndianMarker) {
    fail("endianness marker (bytes 8-11)", Hex(kWeightsEndianMarker) + " (little-endian)",
         Hex(marker) +
             (marker == __builtin_bswap32(kWeightsEndianMarker) ? " (a big-endian file)" : ""));
  }
  const uint32_t version = ReadAt<uint32_t>(base_, 12);
  if (version != kWeightsVersion && version != kWeightsVersion1) {
    fail("format version (bytes 12-15)",
         std::to_string(kWeightsVersion1) + " or " + std::to_string(kWeightsVersion),
         std::to_string(version) +
             (version > kWeightsVersion
                  ? " (a newer format: update rtmo.cpp, or re-convert the checkpoint with this "
                    "release's tools/convert_checkpoint.py)"
                  : " (corrupt header)"));
  }
  version_ = version;
  const bool v2 = version == kWeightsVersion;
  const uint64_t header_size = v2 ? kWeightsHeaderSize : kWeightsHeaderSizeV1;
  if (v2) {
    if (size_ < header_size) {
      fail("file size", "at least the " + std::to_string(header_size) + "-byte version-2 header",
           std::to_string(size_) + " bytes (truncated)");
    }
    // First, so that no field of a damaged header is believed (and named as the culprit).
    const uint32_t stored = ReadAt<uint32_t>(base_, kHeaderCrcAt);
    const uint32_t actual = Crc32(base_, kHeaderCrcAt);
    if (stored != actual) {
      fail("header checksum (bytes 0-75, CRC-32 stored at bytes 76-79)", Crc(stored),
           Crc(actual) + " (the header is corrupt: re-download or re-convert the file)");
    }
    for (uint64_t i = kReservedAt; i < kHeaderCrcAt; ++i) {
      if (base_[i] != 0) {
        fail("header reserved bytes 68-75", "zeros",
             "byte " + std::to_string(i) + " = " + std::to_string(base_[i]));
      }
    }
  }
  const uint64_t file_size = ReadAt<uint64_t>(base_, 16);
  const uint64_t config_offset = ReadAt<uint64_t>(base_, 24);
  const uint64_t config_size = ReadAt<uint64_t>(base_, 32);
  const uint64_t table_offset = ReadAt<uint64_t>(base_, 40);
  const uint64_t table_size = ReadAt<uint64_t>(base_, 48);
  const uint64_t count = ReadAt<uint64_t>(base_, 56);
  if (file_size != size_) {
    fail("header file_size (bytes 16-23)", std::to_string(size_) + " (the actual file size)",
         std::to_string(file_size) + (size_ < file_size ? " (the file is truncated)" : ""));
  }
  if (config_offset != header_size) {
    fail("header config_offset",
         std::to_string(header_size) + " (version " + std::to_string(version) + ")",
         std::to_string(config_offset));
  }
  if (config_size > kMaxConfigBytes || config_size > size_ - config_offset) {
    fail("header config_size",
         "at most " + std::to_string(std::min(kMaxConfigBytes, size_ - config_offset)) +
             " bytes (inside the file)",
         std::to_string(config_size));
  }
  if (table_offset != config_offset + config_size) {
    fail("header table_offset",
         std::to_string(config_offset + config_size) + " (right after the config block)",
         std::to_string(table_offset));
  }
  if (table_size > size_ - table_offset) {
    fail("header table_size",
         "at most " + std::to_string(size_ - table_offset) + " bytes (inside the file)",
         std::to_string(table_size));
  }
  // Smallest possible entry: name_len + 1-byte name + dtype + ndim + offset + nbytes
  // (+ data_crc32 in version 2).
  const uint64_t kMinEntry = 4 + 1 + 4 + 4 + 8 + 8 + (v2 ? 4 : 0);
  if (count > kMaxTensors || count > table_size / kMinEntry) {
    fail("header tensor_count",
         "at most " + std::to_string(std::min(kMaxTensors, table_size / kMinEntry)) +
             " (table_size " + std::to_string(table_size) + " / " + std::to_string(kMinEntry) +
             "-byte minimal entries)",
         std::to_string(count));
  }

  // Config block + tensor table: one checksum, verified before either is interpreted.
  if (v2) {
    const uint32_t stored = ReadAt<uint32_t>(base_, kMetaCrcAt);
    const uint32_t actual = Crc32(base_ + config_offset, config_size + table_size);
    if (stored != actual) {
      fail("config block + tensor table checksum (bytes " + std::to_string(config_offset) + "-" +
               std::to_string(table_offset + table_size - 1) + ", CRC-32 stored at bytes 64-67)",
           Crc(stored), Crc(actual) + " (corrupt: re-download or re-convert the file)");
    }
  }

  // Config block.
  const std::string_view text(reinterpret_cast<const char*>(base_ + config_offset), config_size);
  if (text.find('\0') != std::string_view::npos) {
    fail("config block", "text without NUL bytes",
         "a NUL at offset " + std::to_string(config_offset + text.find('\0')));
  }
  config_ = ConfigFromText(text, f);

  // Tensor table.
  const uint64_t table_end = table_offset + table_size;
  const uint64_t data_start = AlignUp(table_end);
  Cursor cur(base_, table_offset, table_end, f);
  tensors_.clear();
  tensors_.reserve(count);
  std::vector<uint64_t> offsets;
  offsets.reserve(count);
  std::vector<uint32_t> crcs;  // data CRC-32 of each entry (version 2)
  crcs.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    cur.SetEntry(i, {});
    const uint32_t name_len = cur.Read<uint32_t>("name_len");
    if (name_len == 0 || name_len > kMaxNameLength) {
      fail("tensor table entry " + std::to_string(i) + " name_len",
           "1.." + std::to_string(kMaxNameLength), std::to_string(name_len));
    }
    const uint8_t* name_bytes = cur.Bytes(name_len, "name");
    for (uint32_t j = 0; j < name_len; ++j) {
      if (name_bytes[j] <= 0x20 || name_bytes[j] >= 0x7f) {
        fail("tensor table entry " + std::to_string(i) + " name",
             "printable ASCII without spaces (a state_dict key)",
             Printable(name_bytes, std::min<uint32_t>(name_len, 80)));
      }
    }
    TensorInfo t;
    t.name.assign(reinterpret_cast<const char*>(name_bytes), name_len);
    cur.SetEntry(i, t.name);
    const std::string where = "tensor '" + t.name + "'";
    const uint32_t dtype = cur.Read<uint32_t>("dtype");
    t.dtype = static_cast<DType>(dtype);
    const size_t esize = DTypeSize(t.dtype);
    if (esize == 0) {
      fail(where + " dtype", "0..5 (float32, float16, bfloat16, int32, int64, uint8)",
           std::to_string(dtype));
    }
    const uint32_t ndim = cur.Read<uint32_t>("ndim");
    if (ndim > kMaxDims) {
      fail(where + " ndim", "at most " + std::to_string(kMaxDims), std::to_string(ndim));
    }
    uint64_t elems = 1;
    for (uint32_t d = 0; d < ndim; ++d) {
      const uint64_t dim = cur.Read<uint64_t>("dims");
      if (dim == 0 || dim > kMaxDim) {
        fail(where + " dim " + std::to_string(d), "1.." + std::to_string(kMaxDim),
             std::to_string(dim) + (dim ? " (absurd)" : " (empty tensor)"));
      }
      t.shape.push_back(static_cast<int64_t>(dim));
      if (__builtin_mul_overflow(elems, dim, &elems)) {
        fail(where + " shape", "an element count below 2^64",
             "overflow at dim " + std::to_string(d));
      }
    }
    uint64_t expect_bytes = 0;
    if (__builtin_mul_overflow(elems, static_cast<uint64_t>(esize), &expect_bytes)) {
      fail(where + " shape", "a byte size below 2^64",
           ShapeString(t.shape) + " x " + std::to_string(esize) + " B overflows");
    }
    const uint64_t offset = cur.Read<uint64_t>("offset");
    const uint64_t nbytes = cur.Read<uint64_t>("nbytes");
    crcs.push_back(v2 ? cur.Read<uint32_t>("data_crc32") : 0);
    if (nbytes != expect_bytes) {
      fail(where + " nbytes",
           std::to_string(expect_bytes) + " (" + ShapeString(t.shape) + " x " +
               std::to_string(esize) + " B " + DTypeName(t.dtype) + ")",
           std::to_string(nbytes));
    }
    if (offset % kWeightsAlign != 0) {
      fail(where + " offset", "a multiple of " + std::to_string(kWeightsAlign),
           std::to_string(offset));
    }
    if (offset < data_start) {
      fail(where + " offset",
           "at least " + std::to_string(data_start) + " (data starts after the table)",
           std::to_string(offset));
    }
    if (offset > size_ || nbytes > size_ - offset) {
      fail(where + " offset + nbytes", "at most the file size " + std::to_string(size_),
           std::to_string(offset) + " + " + std::to_string(nbytes) + " (past the end)");
    }
    if (index_.count(t.name) != 0) {
      fail(where, "a unique name",
           "a duplicate of entry " + std::to_string(index_.find(t.name)->second));
    }
    t.data = base_ + offset;
    t.bytes = nbytes;
    index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
    offsets.push_back(offset);
  }
  if (cur.pos() != table_end) {
    fail("header table_size",
         std::to_string(cur.pos() - table_offset) + " (the bytes the " + std::to_string(count) +
             " entries use)",
         std::to_string(table_size));
  }

  // Overlaps, and the file ends right after the last tensor (padded to 64).
  std::vector<size_t> order(tensors_.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return offsets[a] < offsets[b]; });
  uint64_t end = data_start;
  for (size_t k = 0; k < order.size(); ++k) {
    const size_t i = order[k];
    if (k > 0) {
      const size_t prev = order[k - 1];
      const uint64_t prev_end = offsets[prev] + tensors_[prev].bytes;
      if (offsets[i] < prev_end) {
        fail("tensor '" + tensors_[i].name + "' offset",
             "at least " + std::to_string(prev_end) + " (after tensor '" + tensors_[prev].name +
                 "', no overlap)",
             std::to_string(offsets[i]) + " (overlapping)");
      }
    }
    end = offsets[i] + tensors_[i].bytes;
  }
  if (AlignUp(end) != size_) {
    fail("file size",
         std::to_string(AlignUp(end)) + " (end of the last tensor, padded to " +
             std::to_string(kWeightsAlign) + ")",
         std::to_string(size_) + " (trailing bytes)");
  }

  // Data: the checksum (version 2) and, for float32, finiteness (a NaN/Inf weight is a
  // broken checkpoint, not something to run). One pass over each tensor in chunks that
  // stay in L1 for both checks: the file is read from memory once. A checksum mismatch is
  // reported before a non-finite value, since it is the cause.
  constexpr uint64_t kChunk = 16 * 1024;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const TensorInfo& t = tensors_[i];
    const uint8_t* p = static_cast<const uint8_t*>(t.data);
    const bool f32 = t.dtype == DType::kF32;
    uint32_t crc = 0;
    uint64_t first_bad = ~uint64_t{0};  // element index of the first non-finite value
    for (uint64_t at = 0; at < t.bytes; at += kChunk) {
      const uint64_t n = std::min(kChunk, t.bytes - at);
      if (v2) crc = Crc32(p + at, n, crc);
      if (f32 && first_bad == ~uint64_t{0}) {
        // Branch-free OR over the chunk (vectorises); the index is searched only on a hit.
        uint32_t bad = 0;
        for (uint64_t j = 0; j < n; j += 4) {
          uint32_t u;
          std::memcpy(&u, p + at + j, 4);
          bad |= static_cast<uint32_t>((u & kF32ExpMask) == kF32ExpMask);
        }
        if (bad) {
          for (uint64_t j = 0; j < n; j += 4) {
            uint32_t u;
            std::memcpy(&u, p + at + j, 4);
            if ((u & kF32ExpMask) == kF32ExpMask) {
              first_bad = (at + j) / 4;
              break;
            }
          }
        }
      }
    }
    if (v2 && crc != crcs[i]) {
      fail("tensor '" + t.name + "' data (bytes " + std::to_string(offsets[i]) + "-" +
               std::to_string(offsets[i] + t.bytes - 1) + ") checksum",
           "CRC-32 " + Crc(crcs[i]) + " (stored in its table entry)",
           Crc(crc) + " (the tensor's data is corrupt: re-download or re-convert the file)");
    }
    if (first_bad != ~uint64_t{0}) {
      const float v = static_cast<const float*>(t.data)[first_bad];
      fail("tensor '" + t.name + "' element " + std::to_string(first_bad), "a finite float32",
           std::isnan(v) ? "NaN" : "Inf");
    }
  }
}

const TensorInfo* Weights::Find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const float* Weights::Require(std::string_view name, std::initializer_list<int64_t> shape) const {
  return Require(name, std::vector<int64_t>(shape));
}

const float* Weights::Require(std::string_view name, const std::vector<int64_t>& shape) const {
  const TensorInfo* t = Find(name);
  if (t == nullptr) {
    throw Error(path_ + ": tensor '" + std::string(name) + "': expected float32 " +
                ShapeString(shape) + ", found no such tensor (" + config_.Summary() + ")");
  }
  if (t->dtype != DType::kF32) {
    throw Error(path_ + ": tensor '" + t->name + "': expected float32, found " +
                DTypeName(t->dtype));
  }
  if (t->shape != shape) {
    throw Error(path_ + ": tensor '" + t->name + "': expected shape " + ShapeString(shape) +
                ", found " + ShapeString(t->shape) + " (" + config_.Summary() + ")");
  }
  return static_cast<const float*>(t->data);
}

std::vector<uint8_t> SerializeWeights(const ModelConfig& config,
                                      const std::vector<TensorToWrite>& tensors, uint32_t version) {
  if (version != kWeightsVersion && version != kWeightsVersion1) {
    throw Error("SerializeWeights: version " + std::to_string(version) + " cannot be written");
  }
  const bool v2 = version == kWeightsVersion;
  const uint64_t header_size = v2 ? kWeightsHeaderSize : kWeightsHeaderSizeV1;
  const uint64_t crc_bytes = v2 ? 4 : 0;
  const std::string text = ConfigToText(config);
  std::vector<uint8_t> table;
  auto put = [&table](const void* p, size_t n) {
    const uint8_t* b = static_cast<const uint8_t*>(p);
    table.insert(table.end(), b, b + n);
  };
  // Table size does not depend on offsets: compute it first.
  uint64_t table_size = 0;
  for (const TensorToWrite& t : tensors)
    table_size += 4 + t.name.size() + 8 + 8 * t.shape.size() + 16 + crc_bytes;
  const uint64_t table_offset = header_size + text.size();
  uint64_t offset = AlignUp(table_offset + table_size);
  std::vector<uint64_t> offsets;
  for (const TensorToWrite& t : tensors) {
    uint64_t n = 1;
    for (int64_t d : t.shape) n *= static_cast<uint64_t>(d);
    const uint32_t name_len = static_cast<uint32_t>(t.name.size());
    const uint32_t dtype = static_cast<uint32_t>(DType::kF32);
    const uint32_t ndim = static_cast<uint32_t>(t.shape.size());
    put(&name_len, 4);
    put(t.name.data(), t.name.size());
    put(&dtype, 4);
    put(&ndim, 4);
    for (int64_t d : t.shape) {
      const uint64_t u = static_cast<uint64_t>(d);
      put(&u, 8);
    }
    const uint64_t nbytes = n * 4;
    put(&offset, 8);
    put(&nbytes, 8);
    if (v2) {
      // A tensor without data is written as zeros (as below).
      const uint32_t crc = t.data != nullptr ? Crc32(t.data, nbytes)
                                             : Crc32(std::vector<uint8_t>(nbytes).data(), nbytes);
      put(&crc, 4);
    }
    offsets.push_back(offset);
    offset = AlignUp(offset + nbytes);
  }
  const uint64_t file_size = offset;
  std::vector<uint8_t> out(file_size, 0);
  std::memcpy(out.data(), kWeightsMagic, 8);
  auto put_at = [&out](uint64_t at, const auto& v) { std::memcpy(out.data() + at, &v, sizeof v); };
  put_at(8, kWeightsEndianMarker);
  put_at(12, version);
  put_at(16, file_size);
  put_at(24, header_size);
  put_at(32, static_cast<uint64_t>(text.size()));
  put_at(40, table_offset);
  put_at(48, table_size);
  put_at(56, static_cast<uint64_t>(tensors.size()));
  std::memcpy(out.data() + header_size, text.data(), text.size());
  std::memcpy(out.data() + table_offset, table.data(), table.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    uint64_t n = 1;
    for (int64_t d : tensors[i].shape) n *= static_cast<uint64_t>(d);
    if (n > 0 && tensors[i].data != nullptr) {
      std::memcpy(out.data() + offsets[i], tensors[i].data, n * 4);
    }
  }
  if (v2) {
    put_at(kMetaCrcAt, Crc32(out.data() + header_size, text.size() + table_size));
    put_at(kHeaderCrcAt, Crc32(out.data(), kHeaderCrcAt));
  }
  return out;
}

void RecomputeWeightsChecksums(std::vector<uint8_t>* image) {
  std::vector<uint8_t>& b = *image;
  if (b.size() < kWeightsHeaderSize || ReadAt<uint32_t>(b.data(), 12) != kWeightsVersion) return;
  const uint64_t size = b.size();
  const uint64_t cfg_off = ReadAt<uint64_t>(b.data(), 24);
  const uint64_t cfg_size = ReadAt<uint64_t>(b.data(), 32);
  const uint64_t table_size = ReadAt<uint64_t>(b.data(), 48);
  const uint64_t count = ReadAt<uint64_t>(b.data(), 56);
  // Data CRCs first (they are inside the table, which the meta CRC covers), then the meta
  // CRC (inside the header, which the header CRC covers), then the header CRC.
  if (cfg_off <= size && cfg_size <= size - cfg_off && table_size <= size - cfg_off - cfg_size) {
    const uint64_t table_end = cfg_off + cfg_size + table_size;
    uint64_t p = cfg_off + cfg_size;
    for (uint64_t i = 0; i < count && i < kMaxTensors; ++i) {
      if (table_end - p < 4) break;
      const uint64_t name_len = ReadAt<uint32_t>(b.data(), p);
      if (table_end - p - 4 < name_len + 8) break;
      p += 4 + name_len;
      const uint64_t ndim = ReadAt<uint32_t>(b.data(), p + 4);
      p += 8;
      if (ndim > kMaxDims || table_end - p < 8 * ndim + 20) break;
      p += 8 * ndim;
      const uint64_t off = ReadAt<uint64_t>(b.data(), p);
      const uint64_t nbytes = ReadAt<uint64_t>(b.data(), p + 8);
      if (off <= size && nbytes <= size - off) {
        const uint32_t crc = Crc32(b.data() + off, nbytes);
        std::memcpy(b.data() + p + 16, &crc, 4);
      }
      p += 20;
    }
    const uint32_t meta = Crc32(b.data() + cfg_off, cfg_size + table_size);
    std::memcpy(b.data() + kMetaCrcAt, &meta, 4);
  }
  const uint32_t head = Crc32(b.data(), kHeaderCrcAt);
  std::memcpy(b.data() + kHeaderCrcAt, &head, 4);
}

}  // namespace rtmo
