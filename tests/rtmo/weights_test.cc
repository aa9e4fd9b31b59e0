// The .rtmo reader: write/read round trips, and every kind of bad file gives an rtmo::Error
// that names the file, the field or tensor, and what was expected / found. Structural edits
// are resealed (RecomputeWeightsChecksums) so that they reach the check they target; the
// checksum tests at the end edit bytes without resealing.
#include "rtmo/io/weights.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "rtmo/error.h"
#include "rtmo/net/network.h"
#include "rtmo/testing/synthetic_model.h"

namespace rtmo {
namespace {

using Bytes = std::vector<uint8_t>;
const char kName[] = "test.rtmo";

struct Owned {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> data;
};

std::vector<Owned> SmallTensors() {
  std::mt19937 rng(42);
  std::normal_distribution<float> nd;
  std::vector<Owned> t = {{"a.weight", {2, 3, 4, 5}, {}},
                          {"a.bias", {7}, {}},
                          {"scalar", {}, {}},
                          {"b.weight", {16, 16}, {}}};
  for (Owned& o : t) {
    size_t n = 1;
    for (int64_t d : o.shape) n *= static_cast<size_t>(d);
    for (size_t i = 0; i < n; ++i) o.data.push_back(nd(rng));
  }
  return t;
}

Bytes Build(const ModelConfig& c, const std::vector<Owned>& tensors) {
  std::vector<TensorToWrite> w;
  for (const Owned& o : tensors) w.push_back({o.name, o.shape, o.data.data()});
  return SerializeWeights(c, w);
}

Bytes SmallFile() { return Build(ModelConfig::ForVariant("t"), SmallTensors()); }

template <typename T>
T Get(const Bytes& b, size_t at) {
  T v;
  std::memcpy(&v, b.data() + at, sizeof v);
  return v;
}
template <typename T>
void Put(Bytes& b, size_t at, T v) {
  std::memcpy(b.data() + at, &v, sizeof v);
}

// Byte positions of the fields of table entry i.
struct EntryPos {
  size_t name_len, name, dtype, ndim, dims, offset, nbytes, crc;  // crc: version 2 only
};
EntryPos Entry(const Bytes& b, int i) {
  size_t p = Get<uint64_t>(b, 40);
  for (int k = 0;; ++k) {
    EntryPos e;
    e.name_len = p;
    e.name = p + 4;
    e.dtype = e.name + Get<uint32_t>(b, p);
    e.ndim = e.dtype + 4;
    e.dims = e.ndim + 4;
    e.offset = e.dims + 8 * Get<uint32_t>(b, e.ndim);
    e.nbytes = e.offset + 8;
    e.crc = e.nbytes + 8;
    if (k == i) return e;
    p = e.crc + 4;
  }
}

// Expects FromBytes(b) to throw an rtmo::Error whose message starts with the file name and
// contains every string in `parts`. `reseal`: recompute the checksums first, so that a
// structural edit is caught by the structural check it targets, not by a checksum.
void ExpectError(Bytes b, std::initializer_list<std::string> parts, bool reseal = true) {
  if (reseal) RecomputeWeightsChecksums(&b);
  try {
    Weights::FromBytes(kName, b.data(), b.size());
    ADD_FAILURE() << "no error; expected one mentioning " << *parts.begin();
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind(std::string(kName) + ": ", 0), 0u) << msg;
    for (const std::string& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << msg;
  }
}

std::string TempPath(const std::string& leaf) {
  return ::testing::TempDir() + "/rtmo_weights_test_" + std::to_string(::getpid()) + "_" + leaf;
}

void WriteFile(const std::string& path, const Bytes& b) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

TEST(Weights, RoundTripFromBytesAndFile) {
  ModelConfig c = ModelConfig::ForVariant("m", 14);
  c.dataset = "crowdpose";
  const std::vector<Owned> tensors = SmallTensors();
  const Bytes b = Build(c, tensors);
  ASSERT_EQ(b.size() % kWeightsAlign, 0u);

  const std::string path = TempPath("roundtrip.rtmo");
  WriteFile(path, b);
  for (int from_file = 0; from_file < 2; ++from_file) {
    const Weights w =
        from_file ? Weights::Open(path) : Weights::FromBytes(kName, b.data(), b.size());
    EXPECT_EQ(ConfigToText(w.config()), ConfigToText(c));
    EXPECT_EQ(w.config().dataset, "crowdpose");
    EXPECT_EQ(w.config().num_keypoints, 14);
    EXPECT_EQ(w.file_size(), b.size());
    ASSERT_EQ(w.tensors().size(), tensors.size());
    for (size_t i = 0; i < tensors.size(); ++i) {
      const TensorInfo& t = w.tensors()[i];
      EXPECT_EQ(t.name, tensors[i].name);
      EXPECT_EQ(t.shape, tensors[i].shape);
      EXPECT_EQ(t.dtype, DType::kF32);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % kWeightsAlign, 0u) << t.name;
      ASSERT_EQ(t.bytes, tensors[i].data.size() * 4);
      EXPECT_EQ(std::memcmp(t.data, tensors[i].data.data(), t.bytes), 0) << t.name;
      EXPECT_EQ(w.Find(t.name), &t);
    }
    EXPECT_EQ(w.Find("nope"), nullptr);
    const float* bias = w.Require("a.bias", {7});
    EXPECT_EQ(bias[6], tensors[1].data[6]);
  }
  ::unlink(path.c_str());
}

TEST(Weights, MoveKeepsTensorsValid) {
  const Bytes b = SmallFile();
  Weights a = Weights::FromBytes(kName, b.data(), b.size());
  const void* p = a.Find("b.weight")->data;
  Weights moved = std::move(a);
  EXPECT_EQ(moved.Find("b.weight")->data, p);
  Weights assigned = Weights::FromBytes(kName, b.data(), b.size());
  assigned = std::move(moved);
  EXPECT_EQ(assigned.Require("b.weight", {16, 16}), p);
}

TEST(Weights, RequireNamesTensorShapeAndDtype) {
  const Bytes b = SmallFile();
  const Weights w = Weights::FromBytes(kName, b.data(), b.size());
  try {
    w.Require("a.weight", {2, 3, 4, 6});
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "test.rtmo: tensor 'a.weight': expected shape [2, 3, 4, 6], found [2, 3, 4, 5] "
                 "(rtmo-t 416x416 17 keypoints)");
  }
  try {
    w.Require("missing.weight", {1});
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'missing.weight': expected float32 [1], found "
                                         "no such tensor"),
              std::string::npos)
        << e.what();
  }
}

TEST(Weights, RequireRejectsOtherDtypes) {
  Bytes b = SmallFile();
  // Re-declare "b.weight" [16, 16] float32 (1024 B) as int64 [8, 16] (same 1024 B).
  const EntryPos e = Entry(b, 3);
  Put<uint32_t>(b, e.dtype, static_cast<uint32_t>(DType::kI64));
  Put<uint64_t>(b, e.dims, 8);
  RecomputeWeightsChecksums(&b);
  const Weights w = Weights::FromBytes(kName, b.data(), b.size());
  try {
    w.Require("b.weight", {8, 16});
    ADD_FAILURE();
  } catch (const Error& err) {
    EXPECT_STREQ(err.what(), "test.rtmo: tensor 'b.weight': expected float32, found int64");
  }
}

// A whole model: every tensor ForEachTensor lists, so ValidateLayout passes; then one
// tensor missing, one of the wrong shape, one extra.
TEST(Weights, ValidateLayout) {
  const ModelConfig c = ModelConfig::ForVariant("t");
  std::vector<Owned> all;
  ForEachTensor(c, [&](const std::string& n, const std::vector<int64_t>& s) {
    size_t k = 1;
    for (int64_t d : s) k *= static_cast<size_t>(d);
    all.push_back({n, s, std::vector<float>(k, 0.5f)});
  });
  {
    const Bytes b = Build(c, all);
    const Weights w = Weights::FromBytes(kName, b.data(), b.size());
    EXPECT_NO_THROW(ValidateLayout(w));
    EXPECT_EQ(w.tensors().size(), all.size());
  }
  {
    std::vector<Owned> less(all.begin(), all.end() - 1);  // drop head.dcc.y_fc.bias
    const Bytes b = Build(c, less);
    const Weights w = Weights::FromBytes(kName, b.data(), b.size());
    try {
      ValidateLayout(w);
      ADD_FAILURE();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("tensor 'head.dcc.y_fc.bias': expected float32 [128], "
                                           "found no such tensor"),
                std::string::npos)
          << e.what();
    }
  }
  {
    std::vector<Owned> wrong = all;
    wrong[1].shape = {12, 2};  // backbone.stem.conv.bn.weight is [24]
    const Bytes b = Build(c, wrong);
    const Weights w = Weights::FromBytes(kName, b.data(), b.size());
    try {
      ValidateLayout(w);
      ADD_FAILURE();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("tensor 'backbone.stem.conv.bn.weight': expected "
                                           "shape [24], found [12, 2]"),
                std::string::npos)
          << e.what();
    }
  }
  {
    std::vector<Owned> more = all;
    more.push_back({"head.dcc.sigma_fc.0.bias", {17}, std::vector<float>(17, 1.f)});
    const Bytes b = Build(c, more);
    const Weights w = Weights::FromBytes(kName, b.data(), b.size());
    try {
      ValidateLayout(w);
      ADD_FAILURE();
    } catch (const Error& e) {
      EXPECT_NE(
          std::string(e.what()).find("tensor 'head.dcc.sigma_fc.0.bias' is not part of the model"),
          std::string::npos)
          << e.what();
    }
  }
}

TEST(WeightsBadFile, TruncatedAtEveryOffset) {
  const Bytes b = SmallFile();
  ASSERT_GT(b.size(), 1000u);
  for (size_t n = 1; n < b.size(); ++n) {
    const Bytes cut(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n));
    if (n < kWeightsHeaderSizeV1) {
      ExpectError(cut, {"file size: expected at least the 64-byte header, found " +
                        std::to_string(n) + " bytes"});
    } else if (n < kWeightsHeaderSize) {
      ExpectError(cut, {"file size: expected at least the 80-byte version-2 header, found " +
                        std::to_string(n) + " bytes (truncated)"});
    } else {
      ExpectError(cut, {"header file_size (bytes 16-23): expected " + std::to_string(n) +
                            " (the actual file size), found " + std::to_string(b.size()),
                        "truncated"});
    }
  }
}

// Truncated but with the header's file_size patched to match: the next checks catch it.
TEST(WeightsBadFile, TruncatedWithConsistentHeader) {
  const Bytes b = SmallFile();
  const uint64_t table_end = Get<uint64_t>(b, 40) + Get<uint64_t>(b, 48);
  for (size_t n = kWeightsHeaderSize; n < b.size(); n += 7) {
    Bytes cut(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n));
    Put<uint64_t>(cut, 16, n);
    RecomputeWeightsChecksums(&cut);
    try {
      Weights::FromBytes(kName, cut.data(), cut.size());
      ADD_FAILURE() << "cut at " << n;
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_EQ(msg.rfind("test.rtmo: ", 0), 0u) << msg;
      EXPECT_NE(msg.find("expected"), std::string::npos) << msg;
      if (n < table_end) {
        EXPECT_TRUE(msg.find("config_size") != std::string::npos ||
                    msg.find("table_size") != std::string::npos)
            << n << ": " << msg;
      }
    }
  }
}

TEST(WeightsBadFile, EmptyFileDirectoryMissingFile) {
  const std::string empty = TempPath("empty.rtmo");
  WriteFile(empty, {});
  try {
    Weights::Open(empty);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), empty +
                                         ": empty file (0 bytes): expected a .rtmo file of at "
                                         "least 64 bytes");
  }
  ::unlink(empty.c_str());
  ExpectError({}, {"empty file (0 bytes)"});

  const std::string dir = TempPath("dir.rtmo");
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  try {
    Weights::Open(dir);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), dir + ": is a directory: expected a .rtmo weights file");
  }
  ::rmdir(dir.c_str());

  try {
    Weights::Open(TempPath("does-not-exist.rtmo"));
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot open: No such file or directory"),
              std::string::npos)
        << e.what();
  }
}

TEST(WeightsBadFile, WrongMagicVersionEndianness) {
  Bytes b = SmallFile();
  b[0] = 'P';
  b[1] = 'K';
  ExpectError(b, {"magic (bytes 0-7): expected 'RTMOWGTS', found 'PKMOWGTS' (not a .rtmo file)"});

  b = SmallFile();
  Put<uint32_t>(b, 12, 3);
  ExpectError(b, {"format version (bytes 12-15): expected 1 or 2, found 3 (a newer format"});
  Put<uint32_t>(b, 12, 0);
  ExpectError(b, {"format version (bytes 12-15): expected 1 or 2, found 0 (corrupt header)"});

  b = SmallFile();
  Put<uint32_t>(b, 8, 0x0D0C0B0Au);
  ExpectError(b, {"endianness marker (bytes 8-11): expected 0xA0B0C0D (little-endian), found "
                  "0xD0C0B0A (a big-endian file)"});
}

TEST(WeightsBadFile, HeaderFields) {
  Bytes b = SmallFile();
  Put<uint64_t>(b, 24, 72);
  ExpectError(b, {"header config_offset: expected 80 (version 2), found 72"});

  b = SmallFile();
  Put<uint64_t>(b, 32, ~uint64_t{0} - 10);  // config_size near 2^64: no wrap-around
  ExpectError(b, {"header config_size", "18446744073709551605"});

  b = SmallFile();
  Put<uint64_t>(b, 40, Get<uint64_t>(b, 40) + 1);
  ExpectError(b, {"header table_offset: expected", "(right after the config block)"});

  b = SmallFile();
  Put<uint64_t>(b, 48, ~uint64_t{0});
  ExpectError(b, {"header table_size: expected at most", "found 18446744073709551615"});

  b = SmallFile();
  Put<uint64_t>(b, 48, Get<uint64_t>(b, 48) + 8);
  ExpectError(b, {"header table_size: expected", "(the bytes the 4 entries use)"});

  b = SmallFile();
  Put<uint64_t>(b, 56, uint64_t{1} << 62);
  ExpectError(b, {"header tensor_count: expected at most", "found 4611686018427387904"});

  b = SmallFile();
  Put<uint64_t>(b, 56, 5);  // one more entry than the table holds
  ExpectError(b, {"tensor table: entry 4 name_len at offset", "expected 4 more bytes"});
}

TEST(WeightsBadFile, OverlappingTensors) {
  Bytes b = SmallFile();
  const uint64_t first = Get<uint64_t>(b, Entry(b, 0).offset);
  Put<uint64_t>(b, Entry(b, 1).offset, first + 64);  // inside a.weight (480 B)
  ExpectError(b, {"tensor 'a.bias' offset: expected at least",
                  "(after tensor 'a.weight', no "
                  "overlap)",
                  "(overlapping)"});
}

TEST(WeightsBadFile, OffsetPastEndMisalignedBeforeData) {
  Bytes b = SmallFile();
  Put<uint64_t>(b, Entry(b, 3).offset, b.size() + 64);
  ExpectError(
      b, {"tensor 'b.weight' offset + nbytes: expected at most the file size", "(past the end)"});

  b = SmallFile();
  Put<uint64_t>(b, Entry(b, 3).offset, ~uint64_t{0} - 63);  // offset + nbytes would wrap
  ExpectError(b, {"tensor 'b.weight' offset + nbytes", "(past the end)"});

  b = SmallFile();
  Put<uint64_t>(b, Entry(b, 3).offset, Get<uint64_t>(b, Entry(b, 3).offset) + 4);
  ExpectError(b, {"tensor 'b.weight' offset: expected a multiple of 64, found"});

  b = SmallFile();
  Put<uint64_t>(b, Entry(b, 0).offset, 0);  // would alias the header
  ExpectError(b, {"tensor 'a.weight' offset: expected at least",
                  "(data starts after the "
                  "table), found 0"});
}

TEST(WeightsBadFile, AbsurdAndOverflowingDims) {
  Bytes b = SmallFile();
  Put<uint64_t>(b, Entry(b, 0).dims, uint64_t{1} << 40);
  ExpectError(b, {"tensor 'a.weight' dim 0: expected 1..4294967296, found 1099511627776 "
                  "(absurd)"});

  b = SmallFile();
  Put<uint64_t>(b, Entry(b, 0).dims + 8, 0);
  ExpectError(b, {"tensor 'a.weight' dim 1: expected 1..4294967296, found 0 (empty tensor)"});

  b = SmallFile();
  const EntryPos e = Entry(b, 0);
  for (int d = 0; d < 3; ++d) Put<uint64_t>(b, e.dims + 8 * d, uint64_t{1} << 32);
  ExpectError(b, {"tensor 'a.weight' shape: expected an element count below 2^64, found "
                  "overflow at dim 1"});

  b = SmallFile();
  Put<uint64_t>(b, e.dims, uint64_t{1} << 31);
  Put<uint64_t>(b, e.dims + 8, uint64_t{1} << 31);
  Put<uint64_t>(b, e.dims + 16, 4);
  Put<uint64_t>(b, e.dims + 24, 1);  // 2^64 elements... overflow in the element count
  ExpectError(b, {"tensor 'a.weight' shape: expected an element count below 2^64"});

  b = SmallFile();
  Put<uint64_t>(b, e.dims, uint64_t{1} << 31);
  Put<uint64_t>(b, e.dims + 8, uint64_t{1} << 31);
  Put<uint64_t>(b, e.dims + 16, 1);
  Put<uint64_t>(b, e.dims + 24, 1);  // 2^62 elements x 4 B overflows the byte count
  ExpectError(b, {"tensor 'a.weight' shape: expected a byte size below 2^64"});

  b = SmallFile();
  Put<uint32_t>(b, e.ndim, 9);
  ExpectError(b, {"tensor 'a.weight' ndim: expected at most 8, found 9"});
}

TEST(WeightsBadFile, WrongByteSizeForShape) {
  Bytes b = SmallFile();
  Put<uint64_t>(b, Entry(b, 0).dims + 24, 6);  // [2,3,4,6] needs 576 B, entry says 480
  ExpectError(b, {"tensor 'a.weight' nbytes: expected 576 ([2, 3, 4, 6] x 4 B float32), found "
                  "480"});
}

TEST(WeightsBadFile, DuplicateName) {
  std::vector<Owned> t = SmallTensors();
  t[3].name = "a.bias";
  const Bytes b = Build(ModelConfig::ForVariant("t"), t);
  ExpectError(b, {"tensor 'a.bias': expected a unique name, found a duplicate of entry 1"});
}

TEST(WeightsBadFile, UnknownDtype) {
  Bytes b = SmallFile();
  Put<uint32_t>(b, Entry(b, 2).dtype, 99);
  ExpectError(b, {"tensor 'scalar' dtype: expected 0..5", "found 99"});
}

TEST(WeightsBadFile, BadNames) {
  Bytes b = SmallFile();
  Put<uint32_t>(b, Entry(b, 0).name_len, 0);
  ExpectError(b, {"tensor table entry 0 name_len: expected 1..1024, found 0"});

  b = SmallFile();
  Put<uint32_t>(b, Entry(b, 0).name_len, 0xFFFFFFF0u);
  ExpectError(b, {"tensor table entry 0 name_len: expected 1..1024, found 4294967280"});

  b = SmallFile();
  b[Entry(b, 1).name + 1] = ' ';
  ExpectError(
      b, {"tensor table entry 1 name: expected printable ASCII without spaces", "found 'a bias'"});
}

TEST(WeightsBadFile, NonFiniteValues) {
  std::vector<Owned> t = SmallTensors();
  t[1].data[3] = std::nanf("");
  ExpectError(Build(ModelConfig::ForVariant("t"), t),
              {"tensor 'a.bias' element 3: expected a finite float32, found NaN"});
  t = SmallTensors();
  t[3].data[255] = -INFINITY;
  ExpectError(Build(ModelConfig::ForVariant("t"), t),
              {"tensor 'b.weight' element 255: expected a finite float32, found Inf"});
}

TEST(WeightsBadFile, TrailingBytes) {
  Bytes b = SmallFile();
  b.resize(b.size() + 64, 0);
  Put<uint64_t>(b, 16, b.size());
  ExpectError(b, {"file size: expected " + std::to_string(b.size() - 64) +
                  " (end of the last tensor, padded to 64), found " + std::to_string(b.size()) +
                  " (trailing bytes)"});
}

// Config block problems: rebuild the file around an edited config text.
Bytes WithConfigText(const std::string& text) {
  const Bytes good = SmallFile();
  const uint64_t old_table = Get<uint64_t>(good, 40), table_size = Get<uint64_t>(good, 48);
  // Built with reserve + insert: GCC 12 reports a false -Warray-bounds on a 64-byte vector
  // that then grows.
  Bytes b;
  b.reserve(good.size() + text.size() + 64);
  b.insert(b.end(), good.begin(), good.begin() + kWeightsHeaderSize);
  b.insert(b.end(), text.begin(), text.end());
  b.insert(b.end(), good.begin() + static_cast<std::ptrdiff_t>(old_table),
           good.begin() + static_cast<std::ptrdiff_t>(old_table + table_size));
  const uint64_t data_start = (b.size() + 63) / 64 * 64;
  const uint64_t old_data_start = (old_table + table_size + 63) / 64 * 64;
  b.resize(data_start, 0);
  b.insert(b.end(), good.begin() + static_cast<std::ptrdiff_t>(old_data_start), good.end());
  Put<uint64_t>(b, 16, b.size());
  Put<uint64_t>(b, 32, text.size());
  Put<uint64_t>(b, 40, kWeightsHeaderSize + text.size());
  // Shift every tensor offset by the change in data start.
  const int64_t delta = static_cast<int64_t>(data_start) - static_cast<int64_t>(old_data_start);
  for (int i = 0; i < 4; ++i) {
    const size_t at = Entry(b, i).offset;
    Put<uint64_t>(b, at, Get<uint64_t>(b, at) + delta);
  }
  RecomputeWeightsChecksums(&b);
  return b;
}

TEST(WeightsBadFile, ConfigBlock) {
  const std::string good = ConfigToText(ModelConfig::ForVariant("t"));
  {  // sanity: the helper builds valid files
    const Bytes b = WithConfigText(good + "# a comment\n");
    EXPECT_NO_THROW(Weights::FromBytes(kName, b.data(), b.size()));
  }
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    const size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
  };
  ExpectError(WithConfigText(replace("num_bins_x 192\n", "")),
              {"config field 'num_bins_x': expected an integer, found nothing (missing)"});
  ExpectError(WithConfigText(good + "colour blue\n"),
              {"config block line 37: expected a known key, found 'colour'"});
  ExpectError(WithConfigText(good + "input_w 640\n"),
              {"config field 'input_w': expected once, found a second time on line 37"});
  ExpectError(WithConfigText(replace("input_w 416", "input_w 41x6")),
              {"config field 'input_w': expected an integer, found '41x6'"});
  ExpectError(WithConfigText(replace("input_w 416", "input_w 400")),
              {"config field 'input_w/input_h': expected multiples of 32", "found 400x416"});
  ExpectError(WithConfigText(replace("ln_eps 1e-05", "ln_eps nan")),
              {"config field 'ln_eps': expected a finite number, found 'nan'"});
  ExpectError(WithConfigText(replace("stage_blocks 1 3 3 1", "stage_blocks 1 3 3")),
              {"config field 'stage_blocks': expected 4 integers, found '1 3 3'"});
  ExpectError(WithConfigText(replace("variant t", "variant x")),
              {"config field 'variant': expected one of t, s, m, l, found 'x'"});
  ExpectError(WithConfigText(replace("projector_out 192", "projector_out 190")),
              {"config field 'projector_out': expected 2 * head_cls_channels = 192, found 190"});
  ExpectError(WithConfigText(replace("num_keypoints 17", "num_keypoints 100000")),
              {"config field 'num_keypoints': expected an integer in [1, 1024], found 100000"});
  ExpectError(WithConfigText(good.substr(0, good.size() - 1)),
              {"config block line 36: expected a line ending in '\\n'"});
  ExpectError(WithConfigText(std::string("variant t\0\n", 11) + good),
              {"config block: expected text without NUL bytes, found a NUL at offset 89"});
}

// --- checksums (format version 2) ----------------------------------------------------

// The bit-at-a-time definition of CRC-32 (ISO-HDLC), the twin of the sliced Crc32.
uint32_t NaiveCrc32(const uint8_t* p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
  }
  return ~c;
}

TEST(WeightsChecksum, Crc32MatchesTheStandardAndTheNaiveTwin) {
  // The catalogue check value of CRC-32/ISO-HDLC (also zlib.crc32(b"123456789")).
  EXPECT_EQ(Crc32("123456789", 9), 0xCBF43926u);
  EXPECT_EQ(Crc32("", 0), 0u);
  std::mt19937 rng(7);
  std::vector<uint8_t> buf(5000);
  for (uint8_t& v : buf) v = static_cast<uint8_t>(rng());
  // Every length 0..100 and odd offsets (unaligned starts, 1..7-byte tails), and splits.
  // (Lengths past 64 take the carry-less-multiply path on x86-64: 4-lane folds, then
  // 16-byte folds, then a table-driven tail.)
  for (size_t off = 0; off < 9; ++off) {
    for (size_t n = 0; n <= 300; ++n) {
      ASSERT_EQ(Crc32(buf.data() + off, n), NaiveCrc32(buf.data() + off, n)) << off << " " << n;
    }
  }
  for (size_t split = 0; split <= buf.size(); split += 37) {
    EXPECT_EQ(Crc32(buf.data() + split, buf.size() - split, Crc32(buf.data(), split)),
              NaiveCrc32(buf.data(), buf.size()));
  }
}

// Every single-byte change in the header, the config block and the tensor table is
// refused (by the header or meta checksum, or by a structural check that comes first).
TEST(WeightsChecksum, EverySingleByteChangeInHeaderAndTableIsDetected) {
  const Bytes good = SmallFile();
  const uint64_t table_end = Get<uint64_t>(good, 40) + Get<uint64_t>(good, 48);
  ASSERT_GT(table_end, 500u);
  for (size_t at = 0; at < table_end; ++at) {
    for (uint8_t x : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xFF}}) {
      Bytes b = good;
      b[at] ^= x;
      try {
        Weights::FromBytes(kName, b.data(), b.size());
        ADD_FAILURE() << "byte " << at << " ^ " << int{x} << " not detected";
      } catch (const Error& e) {
        const std::string msg = e.what();
        EXPECT_EQ(msg.rfind("test.rtmo: ", 0), 0u) << msg;
        // Past the fields checked before it (magic, marker, version), the header checksum
        // is what catches a header change; the meta checksum catches config/table changes.
        if (at >= 16 && at < kWeightsHeaderSize) {
          EXPECT_NE(msg.find("header checksum (bytes 0-75"), std::string::npos) << at << msg;
        } else if (at >= kWeightsHeaderSize) {
          EXPECT_NE(msg.find("config block + tensor table checksum"), std::string::npos)
              << at << msg;
        }
      }
    }
  }
}

// One flipped bit anywhere in a tensor's data: the error names that tensor and its bytes.
// Every width tiny: the complete layout of a model (every tensor name and rank) in a few
// dozen KB, so that one file copy per flip stays cheap.
TEST(WeightsChecksum, BitFlipInEachTensorNamesTheTensor) {
  const ModelConfig c = MiniatureConfig();
  std::vector<Owned> all;
  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  ForEachTensor(c, [&](const std::string& n, const std::vector<int64_t>& s) {
    size_t k = 1;
    for (int64_t d : s) k *= static_cast<size_t>(d);
    std::vector<float> v(k);
    for (float& x : v) x = nd(rng);
    all.push_back({n, s, std::move(v)});
  });
  const Bytes good = Build(c, all);
  ASSERT_NO_THROW(Weights::FromBytes(kName, good.data(), good.size()));
  for (size_t i = 0; i < all.size(); ++i) {
    const EntryPos e = Entry(good, static_cast<int>(i));
    const uint64_t off = Get<uint64_t>(good, e.offset), n = Get<uint64_t>(good, e.nbytes);
    // First byte, last byte, and one random bit in between.
    for (uint64_t at : {off, off + n - 1, off + rng() % n}) {
      Bytes b = good;
      b[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
      ExpectError(b,
                  {"tensor '" + all[i].name + "' data (bytes " + std::to_string(off) + "-" +
                       std::to_string(off + n - 1) + ") checksum: expected CRC-32 0x",
                   "(the tensor's data is corrupt: re-download or re-convert the file)"},
                  /*reseal=*/false);
    }
  }
}

TEST(WeightsChecksum, HeaderAndMetaMessages) {
  Bytes b = SmallFile();
  Put<uint64_t>(b, 16, Get<uint64_t>(b, 16) + 64);
  ExpectError(b,
              {"header checksum (bytes 0-75, CRC-32 stored at bytes 76-79): expected 0x",
               "(the header is corrupt"},
              false);
  b = SmallFile();
  b[kWeightsHeaderSize + 3] ^= 0x20;  // a config letter
  ExpectError(b, {"config block + tensor table checksum (bytes 80-", "stored at bytes 64-67)"},
              false);
  b = SmallFile();
  b[70] = 1;  // a reserved byte, with a consistent header checksum
  ExpectError(b, {"header reserved bytes 68-75: expected zeros, found byte 70 = 1"});
}

// Version 1 (no checksums) is still read, and says so through format_version().
TEST(WeightsChecksum, Version1FilesStillLoad) {
  const std::vector<Owned> t = SmallTensors();
  std::vector<TensorToWrite> w;
  for (const Owned& o : t) w.push_back({o.name, o.shape, o.data.data()});
  Bytes b = SerializeWeights(ModelConfig::ForVariant("t"), w, kWeightsVersion1);
  EXPECT_EQ(Get<uint32_t>(b, 12), 1u);
  EXPECT_EQ(Get<uint64_t>(b, 24), kWeightsHeaderSizeV1);
  {
    const Weights v1 = Weights::FromBytes(kName, b.data(), b.size());
    EXPECT_EQ(v1.format_version(), 1u);
    ASSERT_EQ(v1.tensors().size(), t.size());
    EXPECT_EQ(std::memcmp(v1.Require("b.weight", {16, 16}), t[3].data.data(), 1024), 0);
  }
  const Bytes v2 = SmallFile();
  EXPECT_EQ(Weights::FromBytes(kName, v2.data(), v2.size()).format_version(), 2u);
  // Same tensors, same data bytes in both versions (only header and table differ).
  const Weights a = Weights::FromBytes(kName, b.data(), b.size());
  const Weights c = Weights::FromBytes(kName, v2.data(), v2.size());
  for (size_t i = 0; i < t.size(); ++i) {
    EXPECT_EQ(std::memcmp(a.tensors()[i].data, c.tensors()[i].data, t[i].data.size() * 4), 0);
  }
  // The limitation that motivated version 2: a corrupted version-1 tensor is not noticed.
  const uint64_t off = Get<uint64_t>(b, Get<uint64_t>(b, 40) + 4 + 8 + 8 + 4 * 8);
  b[off + 1] ^= 0x10;
  EXPECT_NO_THROW(Weights::FromBytes(kName, b.data(), b.size()));
  // And a structural error in a version-1 file is still reported as before.
  Put<uint64_t>(b, 24, 80);
  ExpectError(b, {"header config_offset: expected 64 (version 1), found 80"});
}

}  // namespace
}  // namespace rtmo
