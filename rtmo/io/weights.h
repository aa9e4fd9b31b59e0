// The validating reader of .rtmo weight files (format: weights/FORMAT.md).
//
//   rtmo::Weights w = rtmo::Weights::Open("rtmo-s.rtmo");   // checks the whole container
//   rtmo::ValidateLayout(w);              // (rtmo/net/network.h) every tensor the model needs
//   const float* k = w.Require("backbone.stem.conv.conv.weight", {32, 12, 3, 3});
//
// Open() maps the file read-only and checks every byte of structure before returning:
// magic, endianness marker, version, header sizes, the config block, and each tensor
// entry (name, dtype, dims, element-count overflow, offset alignment and bounds, overlaps,
// duplicate names) plus that float tensors are finite. Version-2 files also carry CRC-32s
// of the header, of the config block + tensor table, and of every tensor's bytes; all are
// verified, so a corrupted file is refused naming the section or tensor whose bytes
// changed. Version-1 files (no checksums) are still read; format_version() tells them apart. Any
// problem throws rtmo::Error whose message names the file, the field or tensor, what was expected
// and what was found; a Weights object therefore never exists in a half-valid state.
#ifndef RTMO_WEIGHTS_H_
#define RTMO_WEIGHTS_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "rtmo/io/config.h"

namespace rtmo {

// Element types a .rtmo file may declare. The converter writes kF32 only; the others are
// reserved so that a future version can store them without changing the table layout.
enum class DType : uint32_t { kF32 = 0, kF16 = 1, kBF16 = 2, kI32 = 3, kI64 = 4, kU8 = 5 };

// Bytes per element; 0 for an unknown value.
size_t DTypeSize(DType t);
// "float32", "float16", ...; "dtype(<n>)" for an unknown value.
std::string DTypeName(DType t);

struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;  // empty for a scalar
  const void* data = nullptr;  // 64-byte aligned, inside the mapping
  uint64_t bytes = 0;          // = product(shape) * DTypeSize(dtype)
};

// "[32, 12, 3, 3]"
std::string ShapeString(const std::vector<int64_t>& shape);

// File-format constants (weights/FORMAT.md).
inline constexpr char kWeightsMagic[8] = {'R', 'T', 'M', 'O', 'W', 'G', 'T', 'S'};
inline constexpr uint32_t kWeightsEndianMarker = 0x0A0B0C0Du;
// The version SerializeWeights and the converter write. Open also reads kWeightsVersion1.
inline constexpr uint32_t kWeightsVersion = 2;
inline constexpr uint32_t kWeightsVersion1 = 1;
// Header bytes: 64 in version 1; version 2 appends meta_crc32, 8 reserved zero bytes and
// header_crc32 (weights/FORMAT.md).
inline constexpr uint64_t kWeightsHeaderSizeV1 = 64;
inline constexpr uint64_t kWeightsHeaderSize = 80;
inline constexpr uint64_t kWeightsAlign = 64;
// Sanity limits: anything beyond them is a corrupt file, not a bigger model.
inline constexpr uint64_t kMaxTensors = 100000;
inline constexpr uint32_t kMaxNameLength = 1024;
inline constexpr uint32_t kMaxDims = 8;
inline constexpr uint64_t kMaxDim = uint64_t{1} << 32;
inline constexpr uint64_t kMaxConfigBytes = 1 << 20;

class Weights {
 public:
  // Maps and validates `path`. Throws rtmo::Error (named file + field/tensor) on any problem.
  static Weights Open(const std::string& path);
  // Validates a copy of `size` bytes at `data` as if it were a file called `name`
  // (tests and the fuzzer use this; no file I/O).
  static Weights FromBytes(const std::string& name, const void* data, size_t size);

  Weights(Weights&& o) noexcept;
  Weights& operator=(Weights&& o) noexcept;
  Weights(const Weights&) = delete;
  Weights& operator=(const Weights&) = delete;
  ~Weights();

  const std::string& path() const { return path_; }
  const ModelConfig& config() const { return config_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }  // file order
  uint64_t file_size() const { return size_; }
  // 1 (no checksums: callers may warn and suggest re-converting) or 2.
  uint32_t format_version() const { return version_; }

  // nullptr if absent.
  const TensorInfo* Find(std::string_view name) const;
  // float32 data of `name`; throws rtmo::Error naming file + tensor + expected/found shape
  // or dtype if it is absent, not float32, or not of shape `shape`.
  const float* Require(std::string_view name, std::initializer_list<int64_t> shape) const;
  const float* Require(std::string_view name, const std::vector<int64_t>& shape) const;

 private:
  Weights() = default;
  void Release();
  void Parse();  // validates base_/size_, fills config_ and tensors_

  std::string path_;
  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  uint32_t version_ = 0;
  bool mapped_ = false;  // munmap vs free
  ModelConfig config_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> index_;  // name -> tensors_ index
};

// Serialises `config` as the format's config block (key/value text lines).
std::string ConfigToText(const ModelConfig& config);
// Parses a config block; `source` names the file in error messages. Validates every field.
ModelConfig ConfigFromText(std::string_view text, const std::string& source);

// A tensor to write: name, shape and float32 values (tests, tools).
struct TensorToWrite {
  std::string name;
  std::vector<int64_t> shape;
  const float* data = nullptr;
};
// Builds a complete, valid .rtmo image in memory (the C++ twin of the converter's writer).
// `version` 1 writes the old checksum-less layout (tests of the version-1 reader path).
std::vector<uint8_t> SerializeWeights(const ModelConfig& config,
                                      const std::vector<TensorToWrite>& tensors,
                                      uint32_t version = kWeightsVersion);

// Recomputes, in place, every checksum of a version-2 image whose structure was edited
// (tests and the fuzzer use it to reach the structural checks behind the checksums): the
// header CRC always, the meta CRC if the header's config/table range lies inside the
// image, and the data CRC of each table entry that can be parsed with its data inside the
// image. Does nothing to images shorter than the header or of another version.
void RecomputeWeightsChecksums(std::vector<uint8_t>* image);

// CRC-32 as zlib.crc32 / PNG compute it (ISO-HDLC: reflected polynomial 0xEDB88320, initial
// value and final XOR 0xFFFFFFFF). `crc` continues a previous result (0 to start), so
// Crc32(b, Crc32(a)) == Crc32(a + b).
uint32_t Crc32(const void* data, size_t size, uint32_t crc = 0);

}  // namespace rtmo

#endif  // RTMO_WEIGHTS_H_
