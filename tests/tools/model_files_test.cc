// rtmo/io/model_files: SHA-256 against the FIPS 180-4 / NIST CSRC example vectors, the
// official-name table, the sha256 prefix in file names, the cache directory's environment.
// (Downloads and conversions: tests/tools/test_models_by_name.py, against 127.0.0.1.)
#include "rtmo/io/model_files.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <optional>
#include <random>
#include <set>
#include <string>

#include "rtmo/rtmo.h"

namespace rtmo::models {
namespace {

// NIST "Secure Hashing" examples for SHA-256 (SHA256.pdf, FIPS 180-4 appendix values) and
// the widely published empty-message digest.
TEST(Sha256, FipsVectors) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha256Hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklm"
                      "nopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

// One million 'a' (the long FIPS example), fed in odd-sized pieces: padding and block
// boundaries fall everywhere.
TEST(Sha256, MillionAInOddPieces) {
  const std::string a(1000000, 'a');
  Sha256 h;
  std::mt19937 rng(7);
  size_t pos = 0;
  while (pos < a.size()) {
    const size_t n = std::min<size_t>(a.size() - pos, rng() % 131);
    h.Update(a.data() + pos, n);
    pos += n;
  }
  EXPECT_EQ(ToHex(h.Finish()), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// Messages of every length around the 55/56/64-byte padding edges: piecewise == one shot.
TEST(Sha256, PiecewiseEqualsOneShotAtPaddingEdges) {
  std::mt19937 rng(3);
  for (size_t len = 0; len < 200; ++len) {
    std::string m(len, '\0');
    for (char& c : m) c = static_cast<char>(rng());
    const size_t cut = len ? rng() % len : 0;
    Sha256 h;
    h.Update(m.data(), cut);
    h.Update(m.data() + cut, len - cut);
    EXPECT_EQ(ToHex(h.Finish()), Sha256Hex(m)) << "length " << len << " cut " << cut;
  }
}

TEST(OfficialModels, NamesAndHashes) {
  std::set<std::string> names;
  for (const OfficialModel& m : OfficialModels()) {
    EXPECT_TRUE(names.insert(m.name).second) << m.name;
    EXPECT_EQ(Sha256PrefixFromName(m.file).size(), 8u) << m.file;
    const std::string want =
        std::string("rtmo-") + m.variant +
        (std::string(m.dataset) == "body7" ? "" : "-" + std::string(m.dataset));
    EXPECT_EQ(m.name, want);
    EXPECT_EQ(FindOfficial(m.name), &m);
  }
  // The list: t/s/m/l body7, s/m/l coco and crowdpose, l body7-crowdpose.
  EXPECT_EQ(names, (std::set<std::string>{"rtmo-t", "rtmo-s", "rtmo-m", "rtmo-l", "rtmo-s-coco",
                                          "rtmo-m-coco", "rtmo-l-coco", "rtmo-s-crowdpose",
                                          "rtmo-m-crowdpose", "rtmo-l-crowdpose",
                                          "rtmo-l-body7-crowdpose"}));
  EXPECT_EQ(FindOfficial("rtmo-t-coco"), nullptr);
  EXPECT_EQ(FindOfficial("rtmo-s.rtmo"), nullptr);
  EXPECT_EQ(rtmo::ModelNames().size(), OfficialModels().size());
  EXPECT_EQ(rtmo::ModelNames()[1], "rtmo-s");
}

TEST(OfficialModels, Sha256PrefixFromName) {
  EXPECT_EQ(Sha256PrefixFromName("rtmo-s_8xb32-600e_body7-640x640-dac2bf74_20231211.pth"),
            "dac2bf74");
  EXPECT_EQ(Sha256PrefixFromName("x-0123abcd.pth"), "0123abcd");
  EXPECT_EQ(Sha256PrefixFromName("x-0123ABCD.pth"), "");  // OpenMMLab writes lower case
  EXPECT_EQ(Sha256PrefixFromName("x-0123abc.pth"), "");
  EXPECT_EQ(Sha256PrefixFromName("x-0123abcd_20231211.pt"), "");
  EXPECT_EQ(Sha256PrefixFromName("no-hash-in-this-name.pth"), "");
}

// Sets (or unsets) an environment variable for the scope of one test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = getenv(name)) old_ = old;
    if (value) {
      setenv(name, value->c_str(), 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(ModelHome, EnvironmentPrecedence) {
  ScopedEnv home("HOME", "/h");
  {
    ScopedEnv r("RTMO_HOME", "/r"), x("XDG_CACHE_HOME", "/x");
    EXPECT_EQ(ModelHome(), "/r");
  }
  {
    ScopedEnv r("RTMO_HOME", std::nullopt), x("XDG_CACHE_HOME", "/x");
    EXPECT_EQ(ModelHome(), "/x/rtmo");
  }
  {
    ScopedEnv r("RTMO_HOME", ""), x("XDG_CACHE_HOME", std::nullopt);
    EXPECT_EQ(ModelHome(), "/h/.cache/rtmo");
  }
}

TEST(ResolveModel, UnknownSpecNamesTheChoices) {
  try {
    ResolveModel("rtmo-x");
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("'rtmo-x' not found"), std::string::npos) << m;
    EXPECT_NE(m.find("rtmo-l-body7-crowdpose"), std::string::npos) << m;
  }
  EXPECT_THROW(ResolveModel("/nonexistent/x.pth"), Error);
  EXPECT_THROW(ResolveModel(""), Error);
}

}  // namespace
}  // namespace rtmo::models
