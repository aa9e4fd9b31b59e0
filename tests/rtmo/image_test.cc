// rtmo/io/image.h: decoding conventions (OpenCV IMREAD_COLOR), strict errors, EXIF, writers.
// Comparisons with OpenCV itself are in tests/tools/test_image_vs_opencv.py; this suite
// checks behaviour on hand-built files with known pixel values and runs under ASan+UBSan.
#include "rtmo/io/image.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "rtmo/error.h"

namespace rtmo {
namespace {

using Bytes = std::vector<uint8_t>;

// ---- hand-built files ----------------------------------------------------------------------

void PutBe32(Bytes& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
}
void PutLe16(Bytes& b, uint32_t v) {
  b.push_back(v & 0xff);
  b.push_back((v >> 8) & 0xff);
}
void PutLe32(Bytes& b, uint32_t v) {
  PutLe16(b, v & 0xffff);
  PutLe16(b, v >> 16);
}

uint32_t Crc(const uint8_t* d, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) {
    c ^= d[i];
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
  }
  return c ^ 0xffffffffu;
}

void PngChunk(Bytes& out, const char* type, const Bytes& data) {
  PutBe32(out, static_cast<uint32_t>(data.size()));
  Bytes td(type, type + 4);
  td.insert(td.end(), data.begin(), data.end());
  out.insert(out.end(), td.begin(), td.end());
  PutBe32(out, Crc(td.data(), td.size()));
}

// zlib stream with "stored" (uncompressed) deflate blocks: no compressor needed.
Bytes ZlibStored(const Bytes& raw) {
  Bytes z = {0x78, 0x01};
  size_t pos = 0;
  do {
    const size_t n = std::min<size_t>(65535, raw.size() - pos);
    z.push_back(pos + n == raw.size() ? 1 : 0);
    PutLe16(z, static_cast<uint32_t>(n));
    PutLe16(z, static_cast<uint32_t>(~n & 0xffff));
    z.insert(z.end(), raw.begin() + pos, raw.begin() + pos + n);
    pos += n;
  } while (pos < raw.size());
  uint32_t a = 1, b = 0;
  for (uint8_t v : raw) a = (a + v) % 65521, b = (b + a) % 65521;
  PutBe32(z, (b << 16) | a);
  return z;
}

// A PNG from rows of already-packed sample bytes (filter type 0 is prepended).
Bytes MakePng(int w, int h, int bit_depth, int color_type, const std::vector<Bytes>& rows,
              const Bytes& plte = {}, const Bytes& exif = {}) {
  Bytes out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  Bytes ihdr;
  PutBe32(ihdr, w);
  PutBe32(ihdr, h);
  ihdr.insert(ihdr.end(),
              {static_cast<uint8_t>(bit_depth), static_cast<uint8_t>(color_type), 0, 0, 0});
  PngChunk(out, "IHDR", ihdr);
  if (!exif.empty()) PngChunk(out, "eXIf", exif);
  if (!plte.empty()) PngChunk(out, "PLTE", plte);
  Bytes raw;
  for (const Bytes& r : rows) {
    raw.push_back(0);
    raw.insert(raw.end(), r.begin(), r.end());
  }
  PngChunk(out, "IDAT", ZlibStored(raw));
  PngChunk(out, "IEND", {});
  return out;
}

// Uncompressed BMP, bottom-up rows; pixels: [h][w] BGR (24) or BGRA (32).
Bytes MakeBmp(int w, int h, int bpp, const std::vector<Bytes>& rows_top_down) {
  const uint32_t row_bytes = (w * bpp + 31) / 32 * 4;
  Bytes b = {'B', 'M'};
  PutLe32(b, 54 + row_bytes * h);
  PutLe32(b, 0);
  PutLe32(b, 54);
  PutLe32(b, 40);
  PutLe32(b, w);
  PutLe32(b, h);
  PutLe16(b, 1);
  PutLe16(b, bpp);
  for (int i = 0; i < 6; ++i) PutLe32(b, 0);
  for (int y = h - 1; y >= 0; --y) {
    Bytes r = rows_top_down[y];
    r.resize(row_bytes, 0);
    b.insert(b.end(), r.begin(), r.end());
  }
  return b;
}

Image Decode(const Bytes& b, const std::string& name = "test", size_t max = kDefaultMaxPixels) {
  return DecodeImage(b.data(), b.size(), name, max);
}

std::array<int, 3> Px(const Image& im, int x, int y) {
  const uint8_t* p = &im.bgr[(static_cast<size_t>(y) * im.width + x) * 3];
  return {p[0], p[1], p[2]};
}

// A 5x3 image whose every pixel is distinct: (b, g, r) = (x, y, 10*y + x).
Image Numbered(int w = 5, int h = 3) {
  Image im;
  im.width = w;
  im.height = h;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      im.bgr.insert(im.bgr.end(), {static_cast<uint8_t>(x), static_cast<uint8_t>(y),
                                   static_cast<uint8_t>(10 * y + x)});
    }
  }
  return im;
}

std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// ---- conversions -------------------------------------------------------------------------

TEST(DecodeImage, RgbPngBecomesBgr) {
  const Bytes png = MakePng(2, 1, 8, 2, {{10, 20, 30, 40, 50, 60}});
  const Image im = Decode(png);
  ASSERT_EQ(im.width, 2);
  ASSERT_EQ(im.height, 1);
  EXPECT_EQ(Px(im, 0, 0), (std::array<int, 3>{30, 20, 10}));
  EXPECT_EQ(Px(im, 1, 0), (std::array<int, 3>{60, 50, 40}));
}

TEST(DecodeImage, GreyBecomesEqualChannels) {
  const Image im = Decode(MakePng(3, 1, 8, 0, {{0, 77, 255}}));
  EXPECT_EQ(Px(im, 1, 0), (std::array<int, 3>{77, 77, 77}));
  EXPECT_EQ(Px(im, 2, 0), (std::array<int, 3>{255, 255, 255}));
  // 1-bit grey: 0 -> 0, 1 -> 255.
  const Image bits = Decode(MakePng(3, 1, 1, 0, {{0b10100000}}));
  EXPECT_EQ(Px(bits, 0, 0), (std::array<int, 3>{255, 255, 255}));
  EXPECT_EQ(Px(bits, 1, 0), (std::array<int, 3>{0, 0, 0}));
  EXPECT_EQ(Px(bits, 2, 0), (std::array<int, 3>{255, 255, 255}));
}

TEST(DecodeImage, AlphaIsDroppedNotBlended) {
  // RGBA with alpha 0 and 128: colour must come through untouched.
  const Image im = Decode(MakePng(2, 1, 8, 6, {{200, 100, 50, 0, 1, 2, 3, 128}}));
  EXPECT_EQ(Px(im, 0, 0), (std::array<int, 3>{50, 100, 200}));
  EXPECT_EQ(Px(im, 1, 0), (std::array<int, 3>{3, 2, 1}));
  // Grey + alpha.
  const Image ga = Decode(MakePng(1, 1, 8, 4, {{90, 0}}));
  EXPECT_EQ(Px(ga, 0, 0), (std::array<int, 3>{90, 90, 90}));
}

TEST(DecodeImage, SixteenBitKeepsHighByte) {
  // OpenCV (libpng png_set_strip_16) keeps the high byte: 0x12ff -> 0x12, not round(v/257).
  const Image im = Decode(MakePng(1, 1, 16, 2, {{0x12, 0xff, 0xab, 0x01, 0x00, 0x80}}));
  EXPECT_EQ(Px(im, 0, 0), (std::array<int, 3>{0x00, 0xab, 0x12}));
  const Image grey = Decode(MakePng(1, 1, 16, 0, {{0x7f, 0xff}}));
  EXPECT_EQ(Px(grey, 0, 0), (std::array<int, 3>{0x7f, 0x7f, 0x7f}));
}

TEST(DecodeImage, PalettePng) {
  const Bytes plte = {1, 2, 3, 250, 251, 252};
  const Image im = Decode(MakePng(2, 1, 8, 3, {{1, 0}}, plte));
  EXPECT_EQ(Px(im, 0, 0), (std::array<int, 3>{252, 251, 250}));
  EXPECT_EQ(Px(im, 1, 0), (std::array<int, 3>{3, 2, 1}));
}

TEST(DecodeImage, Bmp24And32) {
  // Odd width 3 -> 9 bytes per row padded to 12; rows stored bottom-up.
  const Bytes bmp24 =
      MakeBmp(3, 2, 24, {{1, 2, 3, 4, 5, 6, 7, 8, 9}, {11, 12, 13, 14, 15, 16, 17, 18, 19}});
  const Image im = Decode(bmp24);
  ASSERT_EQ(im.width, 3);
  ASSERT_EQ(im.height, 2);
  EXPECT_EQ(Px(im, 0, 0), (std::array<int, 3>{1, 2, 3}));  // BMP stores BGR already
  EXPECT_EQ(Px(im, 2, 1), (std::array<int, 3>{17, 18, 19}));
  const Bytes bmp32 = MakeBmp(1, 1, 32, {{40, 50, 60, 0}});
  EXPECT_EQ(Px(Decode(bmp32), 0, 0), (std::array<int, 3>{40, 50, 60}));
}

TEST(DecodeImage, Bmp16BitExpandsLikeOpenCv) {
  // 5-5-5 word 0x7c1f: r = 31, g = 0, b = 31. OpenCV expands 5-bit v to v << 3 = 248 (stb
  // alone would replicate bits to 255).
  const Bytes bmp = MakeBmp(2, 1, 16, {{0x1f, 0x7c, 0x00, 0x00}});
  const Image im = Decode(bmp);
  EXPECT_EQ(Px(im, 0, 0), (std::array<int, 3>{248, 0, 248}));
  EXPECT_EQ(Px(im, 1, 0), (std::array<int, 3>{0, 0, 0}));
}

// ---- errors ------------------------------------------------------------------------------

TEST(DecodeImage, EmptyAndNonImage) {
  EXPECT_NE(ErrorOf([] { DecodeImage(nullptr, 0, "nothing.png"); }).find("nothing.png"),
            std::string::npos);
  const Bytes empty;
  EXPECT_NE(ErrorOf([&] { Decode(empty, "e.jpg"); }).find("empty"), std::string::npos);
  const std::string text = "hello, this is not an image at all";
  const Bytes t(text.begin(), text.end());
  const std::string msg = ErrorOf([&] { Decode(t, "notes.txt"); });
  EXPECT_NE(msg.find("notes.txt"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not a JPEG, PNG or BMP"), std::string::npos) << msg;
  // TGA/GIF/PSD are not accepted even though stb could decode some of them.
  const Bytes gif = {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0, 0, 0};
  EXPECT_NE(ErrorOf([&] { Decode(gif); }).find("not a JPEG"), std::string::npos);
}

TEST(LoadImage, MissingFileAndDirectory) {
  const std::string missing = "/nonexistent/dir/x.png";
  const std::string m1 = ErrorOf([&] { LoadImage(missing); });
  EXPECT_NE(m1.find(missing), std::string::npos) << m1;
  const std::string dir = std::filesystem::temp_directory_path().string();
  const std::string m2 = ErrorOf([&] { LoadImage(dir); });
  EXPECT_NE(m2.find("directory"), std::string::npos) << m2;
  EXPECT_NE(m2.find(dir), std::string::npos) << m2;
}

TEST(DecodeImage, HugeClaimedSizeRefusedBeforeDecoding) {
  // IHDR claims 100000 x 100000 but there are no pixels at all: the refusal must come from
  // the header check, not from a failed (or attempted) 30 GB decode. Same for a JPEG SOF.
  for (uint32_t side : {100000u, 10000u}) {
    Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    Bytes ihdr;
    PutBe32(ihdr, side);
    PutBe32(ihdr, side);
    ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});
    PngChunk(png, "IHDR", ihdr);
    const std::string msg = ErrorOf([&] { Decode(png, "huge.png"); });
    EXPECT_NE(msg.find("huge.png"), std::string::npos) << msg;
    EXPECT_NE(msg.find("refused before decoding"), std::string::npos) << msg;
  }
  Bytes jpeg = EncodeJpeg(Numbered(8, 8), 90);
  for (size_t i = 2; i + 8 < jpeg.size(); ++i) {
    if (jpeg[i] == 0xff && jpeg[i + 1] == 0xc0) {  // SOF0: length, precision, height, width
      jpeg[i + 5] = 0xff, jpeg[i + 6] = 0xff, jpeg[i + 7] = 0xff, jpeg[i + 8] = 0xff;
      break;
    }
  }
  const std::string jmsg = ErrorOf([&] { Decode(jpeg, "huge.jpg"); });
  EXPECT_NE(jmsg.find("65535x65535"), std::string::npos) << jmsg;
  EXPECT_NE(jmsg.find("refused before decoding"), std::string::npos) << jmsg;
  // The limit is inclusive and configurable.
  const Bytes small = MakePng(10, 10, 8, 0, std::vector<Bytes>(10, Bytes(10, 7)));
  EXPECT_NO_THROW(Decode(small, "s", 100));
  EXPECT_NE(ErrorOf([&] { Decode(small, "s", 99); }).find("more than the limit"),
            std::string::npos);
}

TEST(DecodeImage, BmpWithUnknownCompressionOrMissingPixelsRefused) {
  // A 1000x1000 BMP header in a 100-byte file, with compression values stb would take for
  // uncompressed (it then decodes the missing rows as zeros): all refused.
  for (uint32_t compression : {0u, 3u, 4u, 6u, 0x12345u}) {
    Bytes b = MakeBmp(1, 1, 24, {Bytes(3, 9)});
    b[18] = 0xe8, b[19] = 0x03;  // width 1000
    b[22] = 0xe8, b[23] = 0x03;  // height 1000
    for (int k = 0; k < 4; ++k) b[30 + k] = static_cast<uint8_t>(compression >> (8 * k));
    b.resize(100, 0);
    const std::string msg = ErrorOf([&] { Decode(b, "claim.bmp"); });
    EXPECT_NE(msg.find("claim.bmp"), std::string::npos) << compression << ": " << msg;
  }
}

TEST(DecodeImage, CorruptPngCrc) {
  Bytes png = MakePng(2, 2, 8, 0, {{1, 2}, {3, 4}});
  png[png.size() - 20] ^= 0x40;  // inside the IDAT payload
  const std::string msg = ErrorOf([&] { Decode(png, "bad.png"); });
  EXPECT_NE(msg.find("CRC"), std::string::npos) << msg;
}

// Finds the first segment with the given JPEG marker; returns its offset (at 0xff) or 0.
size_t FindSegment(const Bytes& jpeg, uint8_t marker) {
  for (size_t i = 2; i + 4 < jpeg.size(); ++i) {
    if (jpeg[i] == 0xff && jpeg[i + 1] == marker) return i;
  }
  return 0;
}

TEST(DecodeImage, RejectsJpegStructuresStbMishandles) {
  // A Huffman table claiming more than 256 codes: stb_image 2.27 would write past its
  // tables (fixed upstream in 2.28); libjpeg rejects it as well.
  Bytes dht = EncodeJpeg(Numbered(16, 16), 90);
  const size_t d = FindSegment(dht, 0xc4);
  ASSERT_NE(d, 0u);
  for (int i = 0; i < 16; ++i) dht[d + 5 + i] = 0xfe;  // after length (2) and Tc/Th (1)
  const std::string m1 = ErrorOf([&] { Decode(dht, "dht.jpg"); });
  EXPECT_NE(m1.find("at most 256"), std::string::npos) << m1;
  // Two frame headers (libjpeg: "two SOF markers"; stb 2.27: use-after-free).
  Bytes two = EncodeJpeg(Numbered(16, 16), 90);
  const size_t f = FindSegment(two, 0xc0);
  ASSERT_NE(f, 0u);
  const size_t len = (size_t{two[f + 2]} << 8) | two[f + 3];
  const Bytes sof(two.begin() + f, two.begin() + f + 2 + len);
  two.insert(two.begin() + f + 2 + len, sof.begin(), sof.end());
  const std::string m2 = ErrorOf([&] { Decode(two, "two.jpg"); });
  EXPECT_NE(m2.find("second frame header"), std::string::npos) << m2;
}

// Every proper prefix of a valid file is an error naming the file (never a crash, a hang or
// a partially grey image, which is what stb and libjpeg produce for truncated JPEGs).
void ExpectAllTruncationsFail(const Bytes& full, const std::string& name) {
  ASSERT_NO_THROW(Decode(full, name));
  const size_t step = full.size() > 4000 ? full.size() / 997 : 1;
  for (size_t n = 0; n < full.size(); n += (n < 64 ? 1 : step)) {
    const Bytes prefix(full.begin(), full.begin() + n);
    const std::string msg = ErrorOf([&] { Decode(prefix, name); });
    ASSERT_FALSE(msg.empty()) << name << " truncated to " << n << " of " << full.size()
                              << " bytes decoded without error";
    ASSERT_NE(msg.find(name), std::string::npos) << msg;
  }
  // The last bytes matter too (JPEG EOI, PNG IEND CRC).
  for (size_t cut = 1; cut <= 16 && cut < full.size(); ++cut) {
    const Bytes prefix(full.begin(), full.end() - cut);
    EXPECT_FALSE(ErrorOf([&] { Decode(prefix, name); }).empty()) << name << " minus " << cut;
  }
}

TEST(DecodeImage, TruncationAtManyOffsets) {
  ExpectAllTruncationsFail(EncodePng(Numbered(31, 17)), "t.png");
  ExpectAllTruncationsFail(EncodeJpeg(Numbered(31, 17), 90), "t.jpg");
  ExpectAllTruncationsFail(MakeBmp(3, 2, 24, {Bytes(9, 1), Bytes(9, 2)}), "t.bmp");
  // A real photo (baseline JPEG from COCO) and its lossless PNG.
  for (const char* f : {"000000000785.jpg", "000000040083.png"}) {
    std::ifstream in(std::string(RTMO_TEST_DATA_DIR) + "/coco/" + f, std::ios::binary);
    const Bytes bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_FALSE(bytes.empty()) << f;
    ExpectAllTruncationsFail(bytes, f);
  }
}

TEST(DecodeImage, RandomCorruptionNeverCrashes) {
  // Bit flips in a valid JPEG and PNG: any outcome but a crash/UB (ASan+UBSan build) is
  // acceptable; errors must name the file.
  std::mt19937 rng(12345);
  for (const Bytes& valid : {EncodeJpeg(Numbered(23, 19), 80), EncodePng(Numbered(23, 19))}) {
    for (int trial = 0; trial < 300; ++trial) {
      Bytes b = valid;
      const int flips = 1 + static_cast<int>(rng() % 8);
      for (int f = 0; f < flips; ++f)
        b[rng() % b.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
      try {
        const Image im = Decode(b, "fuzzed");
        EXPECT_EQ(im.bgr.size(), static_cast<size_t>(im.width) * im.height * 3);
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("fuzzed"), std::string::npos);
      }
    }
  }
}

// ---- EXIF ----------------------------------------------------------------------------------

Bytes ExifTiff(int orientation, bool little) {
  Bytes t;
  auto u16 = [&](uint32_t v) {
    if (little) {
      PutLe16(t, v);
    } else {
      t.push_back((v >> 8) & 0xff);
      t.push_back(v & 0xff);
    }
  };
  auto u32 = [&](uint32_t v) {
    if (little) {
      PutLe32(t, v);
    } else {
      PutBe32(t, v);
    }
  };
  t.push_back(little ? 'I' : 'M');
  t.push_back(little ? 'I' : 'M');
  u16(42);
  u32(8);
  u16(1);  // one IFD0 entry
  u16(0x0112);
  u16(3);
  u32(1);
  u16(orientation);
  u16(0);
  u32(0);
  return t;
}

Bytes WithApp1(const Bytes& jpeg, const Bytes& payload) {
  Bytes seg = {0xff, 0xe1, static_cast<uint8_t>((payload.size() + 2) >> 8),
               static_cast<uint8_t>((payload.size() + 2) & 0xff)};
  seg.insert(seg.end(), payload.begin(), payload.end());
  Bytes out(jpeg.begin(), jpeg.begin() + 2);  // SOI
  out.insert(out.end(), seg.begin(), seg.end());
  out.insert(out.end(), jpeg.begin() + 2, jpeg.end());
  return out;
}

Bytes ExifPayload(int orientation, bool little) {
  Bytes p = {'E', 'x', 'i', 'f', 0, 0};
  const Bytes t = ExifTiff(orientation, little);
  p.insert(p.end(), t.begin(), t.end());
  return p;
}

TEST(ApplyExifOrientation, MatchesTheDefinitions) {
  const Image im = Numbered(5, 3);  // pixel (x, y) has b = x, g = y
  // 6 = rotate 90 degrees clockwise: dst is 3 wide, 5 high; dst(x, y) = src(y, h-1-x).
  const Image r6 = ApplyExifOrientation(im, 6);
  ASSERT_EQ(r6.width, 3);
  ASSERT_EQ(r6.height, 5);
  EXPECT_EQ(Px(r6, 0, 0), Px(im, 0, 2));  // top-left shows the old bottom-left
  EXPECT_EQ(Px(r6, 2, 0), Px(im, 0, 0));  // top-right shows the old top-left
  // 8 = rotate 90 counter-clockwise: top-left shows the old top-right.
  const Image r8 = ApplyExifOrientation(im, 8);
  EXPECT_EQ(Px(r8, 0, 0), Px(im, 4, 0));
  EXPECT_EQ(Px(r8, 0, 4), Px(im, 0, 0));
  // 3 = rotate 180, 2 = mirror, 4 = flip, 5 = transpose, 7 = transverse.
  EXPECT_EQ(Px(ApplyExifOrientation(im, 3), 0, 0), Px(im, 4, 2));
  EXPECT_EQ(Px(ApplyExifOrientation(im, 2), 0, 1), Px(im, 4, 1));
  EXPECT_EQ(Px(ApplyExifOrientation(im, 4), 3, 0), Px(im, 3, 2));
  EXPECT_EQ(Px(ApplyExifOrientation(im, 5), 2, 4), Px(im, 4, 2));
  EXPECT_EQ(Px(ApplyExifOrientation(im, 7), 0, 0), Px(im, 4, 2));
  for (int o : {0, 1, 9, -3}) EXPECT_EQ(ApplyExifOrientation(im, o).bgr, im.bgr) << o;
}

TEST(DecodeImage, ExifOrientationAppliedForJpegAndPng) {
  const Image src = Numbered(40, 24);
  const Bytes jpeg = EncodeJpeg(src, 95);
  const Image plain = Decode(jpeg);
  for (int o = 1; o <= 8; ++o) {
    for (bool little : {true, false}) {
      const Bytes tagged = WithApp1(jpeg, ExifPayload(o, little));
      EXPECT_EQ(ExifOrientation(tagged.data(), tagged.size()), o);
      const Image im = Decode(tagged);
      const Image want = ApplyExifOrientation(plain, o);
      EXPECT_EQ(im.width, want.width) << o;
      EXPECT_EQ(im.bgr, want.bgr) << "orientation " << o << (little ? " II" : " MM");
    }
  }
  // PNG eXIf (raw TIFF, no identifier) is honoured as well (OpenCV 4.6 does).
  const Bytes png = MakePng(2, 1, 8, 0, {{10, 20}}, {}, ExifTiff(6, true));
  const Image p = Decode(png);
  EXPECT_EQ(p.width, 1);
  EXPECT_EQ(p.height, 2);
  EXPECT_EQ(Px(p, 0, 0)[0], 10);
  EXPECT_EQ(Px(p, 0, 1)[0], 20);
}

TEST(ExifOrientation, QuirksAndGarbage) {
  const Bytes jpeg = EncodeJpeg(Numbered(8, 8), 90);
  // Only the first APP1 counts (an XMP packet in front hides the Exif block).
  const std::string xmp = "http://ns.adobe.com/xap/1.0/";
  const Bytes with_exif = WithApp1(jpeg, ExifPayload(6, true));
  const Bytes xmp_first = WithApp1(with_exif, Bytes(xmp.begin(), xmp.end()));
  EXPECT_EQ(ExifOrientation(xmp_first.data(), xmp_first.size()), 1);
  for (int bad : {0, 9, 65535}) {
    const Bytes b = WithApp1(jpeg, ExifPayload(bad, false));
    EXPECT_EQ(ExifOrientation(b.data(), b.size()), 1) << bad;
  }
  // Every truncation of the TIFF block and random garbage: bounded reads (ASan), value 1..8.
  const Bytes payload = ExifPayload(6, true);
  for (size_t n = 0; n <= payload.size(); ++n) {
    const Bytes b = WithApp1(jpeg, Bytes(payload.begin(), payload.begin() + n));
    const int o = ExifOrientation(b.data(), b.size());
    EXPECT_TRUE(o >= 1 && o <= 8);
    // The orientation entry is complete after 6 (identifier) + 8 (TIFF header) + 2 (count)
    // + 12 (entry) bytes; the trailing next-IFD offset is not needed.
    EXPECT_EQ(o, n >= 28 ? 6 : 1) << n;
  }
  std::mt19937 rng(7);
  for (int trial = 0; trial < 500; ++trial) {
    Bytes p = payload;
    p[6 + rng() % (p.size() - 6)] = static_cast<uint8_t>(rng());
    p.resize(6 + rng() % (p.size() - 5));
    const Bytes b = WithApp1(jpeg, p);
    const int o = ExifOrientation(b.data(), b.size());
    EXPECT_TRUE(o >= 1 && o <= 8);
  }
  EXPECT_EQ(ExifOrientation(nullptr, 0), 1);
}

// ---- writers ---------------------------------------------------------------------------------

TEST(Writers, PngRoundTripAndJpegClose) {
  const Image src = Numbered(7, 5);
  EXPECT_EQ(Decode(EncodePng(src)).bgr, src.bgr);
  const Image j = Decode(EncodeJpeg(src, 100));
  ASSERT_EQ(j.bgr.size(), src.bgr.size());
  int max_diff = 0;
  for (size_t i = 0; i < src.bgr.size(); ++i) {
    max_diff = std::max(max_diff, std::abs(int{j.bgr[i]} - int{src.bgr[i]}));
  }
  EXPECT_LE(max_diff, 12);  // quality 100, smooth 0..46 ramps: a few levels of chroma error

  const std::string path = (std::filesystem::temp_directory_path() /
                            ("rtmo_image_test_" + std::to_string(getpid()) + ".png"))
                               .string();
  WritePng(path, src);
  EXPECT_EQ(LoadImage(path).bgr, src.bgr);
  std::filesystem::remove(path);
  const std::string msg = ErrorOf([&] { WritePng("/nonexistent/dir/out.png", src); });
  EXPECT_NE(msg.find("/nonexistent/dir/out.png"), std::string::npos) << msg;
  Image bad = src;
  bad.bgr.pop_back();
  EXPECT_FALSE(ErrorOf([&] { EncodePng(bad); }).empty());
  EXPECT_FALSE(ErrorOf([&] { EncodeJpeg(src, 0); }).empty());
}

}  // namespace
}  // namespace rtmo
