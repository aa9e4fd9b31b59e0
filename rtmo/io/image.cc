// Image decoding with OpenCV imread(IMREAD_COLOR) conventions (JPEG: libjpeg-turbo with
// OpenCV's settings, rtmo/io/jpeg.cc; PNG/BMP: stb_image), strict validation and EXIF
// orientation; PNG/JPEG encoding for drawings.
#include "rtmo/io/image.h"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "rtmo/error.h"
#include "rtmo/io/jpeg.h"
#include "rtmo/io/stb_codecs.h"

namespace rtmo {
namespace {

enum class Format { kUnknown, kJpeg, kPng, kBmp };

const char* FormatName(Format f) {
  switch (f) {
    case Format::kJpeg:
      return "JPEG";
    case Format::kPng:
      return "PNG";
    case Format::kBmp:
      return "BMP";
    default:
      return "unknown";
  }
}

constexpr uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

Format Sniff(const uint8_t* d, size_t n) {
  if (n >= 3 && d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff) return Format::kJpeg;
  if (n >= 8 && std::memcmp(d, kPngSignature, 8) == 0) return Format::kPng;
  if (n >= 2 && d[0] == 'B' && d[1] == 'M') return Format::kBmp;
  return Format::kUnknown;
}

uint32_t Be16(const uint8_t* p) { return (uint32_t{p[0]} << 8) | p[1]; }
uint32_t Be32(const uint8_t* p) { return (Be16(p) << 16) | Be16(p + 2); }
uint32_t Le16(const uint8_t* p) { return (uint32_t{p[1]} << 8) | p[0]; }
uint32_t Le32(const uint8_t* p) { return (Le16(p + 2) << 16) | Le16(p); }

std::string Hex(const uint8_t* d, size_t n) {
  static const char* kDigits = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    if (i) s += ' ';
    s += kDigits[d[i] >> 4];
    s += kDigits[d[i] & 15];
  }
  return s;
}

// ---- JPEG ----------------------------------------------------------------------------------

// What the marker walk found. `error` is empty if the stream is structurally complete.
struct JpegScan {
  std::string error;
  // TIFF block of the first APP1 segment before the first SOS: OpenCV 4.6 (JpegDecoder +
  // ExifReader) looks only at the first APP1 and skips its 6-byte "Exif\0\0" identifier
  // without checking it, so an XMP APP1 in front hides a later Exif APP1. We do the same.
  const uint8_t* exif = nullptr;
  size_t exif_size = 0;
  // Size from the first SOFn segment (0 if none was seen).
  uint32_t frame_w = 0, frame_h = 0;
};

// Walks the JPEG marker structure from SOI to EOI without decoding: every segment length is
// checked against the buffer, entropy-coded data is skipped to the next real marker
// (0xFF followed by neither 0x00 stuffing nor an RSTn). libjpeg pads a truncated stream with
// grey (with a warning, which jpeg.cc also turns into an error); this walk finds truncation
// first and says where.
JpegScan ScanJpeg(const uint8_t* d, size_t n) {
  JpegScan scan;
  auto fail = [&](std::string msg) {
    scan.error = std::move(msg);
    return scan;
  };
  if (n < 2 || d[0] != 0xff || d[1] != 0xd8) return fail("no JPEG start-of-image marker");
  size_t pos = 2;
  bool seen_sos = false, seen_frame = false, seen_app1 = false;
  while (true) {
    if (pos >= n) {
      return fail("truncated: the file ends after " + std::to_string(n) +
                  " bytes without an end-of-image marker");
    }
    if (d[pos] != 0xff) {
      return fail("corrupt: expected a marker at byte " + std::to_string(pos) + ", found 0x" +
                  Hex(d + pos, 1));
    }
    while (pos < n && d[pos] == 0xff) ++pos;  // fill bytes
    if (pos >= n) continue;                   // reported as truncated above
    const uint8_t marker = d[pos++];
    if (marker == 0xd9) {  // EOI
      if (!seen_frame || !seen_sos) return fail("corrupt: end-of-image before any image data");
      return scan;
    }
    if (marker == 0xd8 || marker == 0x00) {
      return fail("corrupt: unexpected marker 0xff" + Hex(&marker, 1) + " at byte " +
                  std::to_string(pos - 2));
    }
    if ((marker >= 0xd0 && marker <= 0xd7) || marker == 0x01) continue;  // no payload
    if (n - pos < 2) {
      return fail("truncated: the file ends inside the header of segment 0xff" + Hex(&marker, 1));
    }
    const size_t len = Be16(d + pos);
    if (len < 2) {
      return fail("corrupt: segment 0xff" + Hex(&marker, 1) + " at byte " +
                  std::to_string(pos - 2) + " has length " + std::to_string(len));
    }
    if (len > n - pos) {
      return fail("truncated: segment 0xff" + Hex(&marker, 1) + " at byte " +
                  std::to_string(pos - 2) + " needs " + std::to_string(len) +
                  " bytes, the file ends after " + std::to_string(n - pos));
    }
    const uint8_t* payload = d + pos + 2;
    const size_t payload_size = len - 2;
    const std::string at = " at byte " + std::to_string(pos - 2);
    if (marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc) {
      // SOFn. libjpeg (hence OpenCV) rejects a second frame header ("two SOF markers"); we
      // reject it up front with a message that says where.
      if (seen_frame) return fail("corrupt: a second frame header (SOF)" + at);
      if (payload_size >= 5) {
        scan.frame_h = Be16(payload + 1);
        scan.frame_w = Be16(payload + 3);
      }
      seen_frame = true;
    }
    if (marker == 0xc4) {
      // DHT: a table has at most 256 codes. libjpeg rejects more ("Bogus Huffman table
      // definition"); checked here too so the message says where.
      size_t t = 0;
      while (t < payload_size) {
        if (payload_size - t < 17) return fail("corrupt: truncated Huffman table" + at);
        size_t codes = 0;
        for (int i = 1; i <= 16; ++i) codes += payload[t + i];
        if (codes > 256) {
          return fail("corrupt: Huffman table with " + std::to_string(codes) +
                      " codes (at most 256)" + at);
        }
        if (payload_size - t - 17 < codes) return fail("corrupt: truncated Huffman table" + at);
        t += 17 + codes;
      }
    }
    if (marker == 0xe1 && !seen_sos && !seen_app1) {
      seen_app1 = true;
      if (payload_size > 6) {
        scan.exif = payload + 6;
        scan.exif_size = payload_size - 6;
      }
    }
    pos += len;
    if (marker == 0xda) {  // SOS: skip entropy-coded data up to the next real marker
      seen_sos = true;
      while (true) {
        const void* ff = pos < n ? std::memchr(d + pos, 0xff, n - pos) : nullptr;
        if (ff == nullptr) {
          pos = n;
          break;
        }
        pos = static_cast<size_t>(static_cast<const uint8_t*>(ff) - d);
        if (pos + 1 >= n) {
          pos = n;
          break;
        }
        const uint8_t next = d[pos + 1];
        if (next == 0x00 || (next >= 0xd0 && next <= 0xd7)) {
          pos += 2;
        } else if (next == 0xff) {
          pos += 1;  // fill byte before a marker
        } else {
          break;  // a marker: handled by the outer loop
        }
      }
    }
  }
}

// TIFF/EXIF reader bounded by [tiff, tiff + size).
int ExifOrientationFromTiff(const uint8_t* tiff, size_t size) {
  if (size < 8) return 1;
  bool little;
  if (tiff[0] == 'I' && tiff[1] == 'I') {
    little = true;
  } else if (tiff[0] == 'M' && tiff[1] == 'M') {
    little = false;
  } else {
    return 1;
  }
  auto u16 = [&](size_t off) { return little ? Le16(tiff + off) : Be16(tiff + off); };
  auto u32 = [&](size_t off) { return little ? Le32(tiff + off) : Be32(tiff + off); };
  if (u16(2) != 42) return 1;  // TIFF magic
  const size_t ifd0 = u32(4);
  if (ifd0 > size || size - ifd0 < 2) return 1;
  const size_t count = u16(ifd0);
  constexpr uint32_t kOrientationTag = 0x0112;
  for (size_t i = 0; i < count; ++i) {
    const size_t entry = ifd0 + 2 + 12 * i;
    if (entry > size || size - entry < 12) return 1;
    if (u16(entry) == kOrientationTag) {
      // A SHORT stored left-aligned in the 4-byte value field (OpenCV reads it the same way
      // without checking the type).
      const uint32_t value = u16(entry + 8);
      return value >= 1 && value <= 8 ? static_cast<int>(value) : 1;
    }
  }
  return 1;
}

// ---- PNG -----------------------------------------------------------------------------------

uint32_t Crc32(const uint8_t* d, size_t n) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) c = table[(c ^ d[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

// Walks the PNG chunks: IHDR first, every chunk inside the buffer, CRCs of critical chunks
// correct (libpng, hence OpenCV, rejects those), IEND present. Returns "" if complete.
// *exif/*exif_size: the first eXIf chunk (anywhere; libpng keeps the first and ignores
// duplicates) if it starts with a TIFF byte-order mark, which libpng requires.
std::string ScanPng(const uint8_t* d, size_t n, const uint8_t** exif, size_t* exif_size) {
  bool seen_exif = false;
  size_t pos = 8;
  bool first = true;
  while (true) {
    if (n - pos < 12) {
      return "truncated: the file ends after " + std::to_string(n) + " bytes without an IEND chunk";
    }
    const size_t len = Be32(d + pos);
    const uint8_t* type = d + pos + 4;
    const std::string name(reinterpret_cast<const char*>(type), 4);
    if (len > 0x7fffffffu) {
      return "corrupt: chunk at byte " + std::to_string(pos) + " claims " + std::to_string(len) +
             " bytes";
    }
    if (len > n - pos - 12) {
      return "truncated: chunk '" + name + "' at byte " + std::to_string(pos) + " needs " +
             std::to_string(len + 12) + " bytes, the file ends after " + std::to_string(n - pos);
    }
    if (first && name != "IHDR") return "corrupt: the first chunk is '" + name + "', not IHDR";
    first = false;
    const bool critical = (type[0] & 0x20) == 0;
    if (critical && Crc32(type, len + 4) != Be32(d + pos + 8 + len)) {
      return "corrupt: CRC mismatch in chunk '" + name + "' at byte " + std::to_string(pos);
    }
    if (name == "eXIf" && !seen_exif) {
      seen_exif = true;
      const uint8_t* c = d + pos + 8;
      if (len >= 2 && c[0] == c[1] && (c[0] == 'I' || c[0] == 'M')) {
        *exif = c;
        *exif_size = len;
      }
    }
    pos += len + 12;
    if (name == "IEND") return "";
  }
}

// ---- BMP -----------------------------------------------------------------------------------

// stb_image reads missing BMP pixel bytes as zeros; check the pixel array is all there.
std::string ScanBmp(const uint8_t* d, size_t n) {
  if (n < 26) return "truncated: " + std::to_string(n) + " bytes, shorter than a BMP header";
  const uint64_t offset = Le32(d + 10);
  const uint32_t header_size = Le32(d + 14);
  int64_t w, h;
  uint32_t bpp, compression = 0;
  if (header_size == 12) {
    w = Le16(d + 18);
    h = Le16(d + 20);
    bpp = Le16(d + 24);
  } else {
    if (n < 34) return "truncated: " + std::to_string(n) + " bytes, shorter than a BMP header";
    w = static_cast<int32_t>(Le32(d + 18));
    h = static_cast<int32_t>(Le32(d + 22));
    bpp = Le16(d + 28);
    compression = Le32(d + 30);
  }
  if (compression == 1 || compression == 2) {
    return "unsupported: RLE-compressed BMP (compression " + std::to_string(compression) +
           "); stb_image reads only uncompressed BMP";
  }
  // Only BI_RGB (0) and BI_BITFIELDS (3) are uncompressed pixel arrays. stb_image 2.27 does
  // not check the field and would decode any other value as uncompressed (zeros past the end
  // of the file), so other values are refused here.
  if (compression != 0 && compression != 3) {
    return "unsupported: BMP compression " + std::to_string(compression) +
           " (only uncompressed BI_RGB / BI_BITFIELDS)";
  }
  if (w <= 0 || h == 0 || bpp == 0 || bpp > 32) {
    return "corrupt: BMP header claims " + std::to_string(w) + "x" + std::to_string(h) + " at " +
           std::to_string(bpp) + " bits per pixel";
  }
  // The pixel array starts at the header's offset (or right after the headers, if the offset
  // points inside them) and must be complete: stb reads missing bytes as zeros.
  const uint64_t row = (static_cast<uint64_t>(w) * bpp + 31) / 32 * 4;
  const uint64_t rows = static_cast<uint64_t>(h < 0 ? -h : h);
  const uint64_t start = std::max<uint64_t>(offset, 14 + uint64_t{header_size});
  if (rows > (uint64_t{1} << 62) / row || start + row * rows > n) {
    return "truncated: the pixel array needs " +
           (rows > (uint64_t{1} << 62) / row ? std::string("more than 2^62")
                                             : std::to_string(start + row * rows)) +
           " bytes, the file has " + std::to_string(n);
  }
  return "";
}

// 16-bit BMPs: OpenCV expands a 5-bit channel v to v << 3 (and 6-bit green to v << 2);
// stb replicates the high bits into the low ones ((v << 3) | (v >> 2)). Returns the masks
// to apply to stb's B, G, R bytes to get OpenCV's values, or {0xff, 0xff, 0xff} if the
// file is not a 5-5-5 / 5-6-5 BMP.
std::array<uint8_t, 3> Bmp16Masks(const uint8_t* d, size_t n) {
  if (n < 34 || Le32(d + 14) < 40 || Le16(d + 28) != 16) return {0xff, 0xff, 0xff};
  const uint32_t compression = Le32(d + 30);
  if (compression == 0) return {0xf8, 0xf8, 0xf8};  // default 5-5-5
  if (compression == 3 && n >= 66) {                // BI_BITFIELDS after a 40-byte header
    const uint32_t r = Le32(d + 54), g = Le32(d + 58), b = Le32(d + 62);
    if (r == 0x7c00 && g == 0x03e0 && b == 0x001f) return {0xf8, 0xf8, 0xf8};
    if (r == 0xf800 && g == 0x07e0 && b == 0x001f) return {0xf8, 0xfc, 0xf8};
  }
  return {0xff, 0xff, 0xff};
}

// ---- helpers -------------------------------------------------------------------------------

std::vector<uint8_t> ReadFile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    throw Error("cannot read image '" + path + "': " + std::strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) throw Error("cannot read image '" + path + "': it is a directory");
  if (!S_ISREG(st.st_mode)) throw Error("cannot read image '" + path + "': not a regular file");
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw Error("cannot open image '" + path + "': " + std::strerror(errno));
  if (static_cast<uint64_t>(st.st_size) > static_cast<uint64_t>(INT_MAX)) {
    throw Error("cannot read image '" + path + "': " + std::to_string(st.st_size) +
                " bytes, more than the decoder's limit of " + std::to_string(INT_MAX));
  }
  std::vector<uint8_t> data(static_cast<size_t>(st.st_size));
  const size_t got = data.empty() ? 0 : std::fread(data.data(), 1, data.size(), f.get());
  if (got != data.size() || std::ferror(f.get())) {
    throw Error("cannot read image '" + path + "': read " + std::to_string(got) + " of " +
                std::to_string(data.size()) + " bytes");
  }
  return data;
}

void CheckEncodable(const Image& image, const std::string& what) {
  if (image.width <= 0 || image.height <= 0 ||
      image.bgr.size() != static_cast<size_t>(image.width) * image.height * 3) {
    throw Error(what + ": invalid image (" + std::to_string(image.width) + "x" +
                std::to_string(image.height) + ", " + std::to_string(image.bgr.size()) +
                " bytes; expected width*height*3 bytes with positive sizes)");
  }
  if (image.width > 65535 || image.height > 65535) {
    throw Error(what + ": " + std::to_string(image.width) + "x" + std::to_string(image.height) +
                " is too large to encode (max 65535 per side)");
  }
}

std::vector<uint8_t> ToRgb(const Image& image) {
  std::vector<uint8_t> rgb(image.bgr.size());
  for (size_t i = 0; i < rgb.size(); i += 3) {
    rgb[i] = image.bgr[i + 2];
    rgb[i + 1] = image.bgr[i + 1];
    rgb[i + 2] = image.bgr[i];
  }
  return rgb;
}

void AppendBytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  const auto* p = static_cast<const uint8_t*>(data);
  out->insert(out->end(), p, p + size);
}

void WriteFile(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) throw Error("cannot write '" + path + "': " + std::strerror(errno));
  const size_t put = std::fwrite(bytes.data(), 1, bytes.size(), f);
  const int close_status = std::fclose(f);
  if (put != bytes.size() || close_status != 0) {
    throw Error("cannot write '" + path + "': wrote " + std::to_string(put) + " of " +
                std::to_string(bytes.size()) + " bytes");
  }
}

}  // namespace

int ExifOrientation(const uint8_t* data, size_t size) {
  if (data == nullptr) return 1;
  const Format format = Sniff(data, size);
  const uint8_t* exif = nullptr;
  size_t exif_size = 0;
  if (format == Format::kJpeg) {
    const JpegScan scan = ScanJpeg(data, size);
    exif = scan.exif;
    exif_size = scan.exif_size;
  } else if (format == Format::kPng) {
    ScanPng(data, size, &exif, &exif_size);
  }
  return exif ? ExifOrientationFromTiff(exif, exif_size) : 1;
}

Image ApplyExifOrientation(const Image& image, int orientation) {
  if (orientation < 2 || orientation > 8) return image;
  const int w = image.width, h = image.height;
  const bool transpose = orientation >= 5;
  Image out;
  out.width = transpose ? h : w;
  out.height = transpose ? w : h;
  out.bgr.resize(image.bgr.size());
  for (int y = 0; y < out.height; ++y) {
    for (int x = 0; x < out.width; ++x) {
      // Source pixel of destination (x, y), per OpenCV's flip/transpose sequence.
      int sx = x, sy = y;
      switch (orientation) {
        case 2:
          sx = w - 1 - x;
          break;  // flip(1)
        case 3:
          sx = w - 1 - x;
          sy = h - 1 - y;
          break;  // flip(-1)
        case 4:
          sy = h - 1 - y;
          break;  // flip(0)
        case 5:
          sx = y;
          sy = x;
          break;  // transpose
        case 6:
          sx = y;
          sy = h - 1 - x;
          break;  // transpose, flip(1)
        case 7:
          sx = w - 1 - y;
          sy = h - 1 - x;
          break;  // transpose, flip(-1)
        case 8:
          sx = w - 1 - y;
          sy = x;
          break;  // transpose, flip(0)
      }
      const uint8_t* s = &image.bgr[(static_cast<size_t>(sy) * w + sx) * 3];
      uint8_t* d = &out.bgr[(static_cast<size_t>(y) * out.width + x) * 3];
      d[0] = s[0];
      d[1] = s[1];
      d[2] = s[2];
    }
  }
  return out;
}

Image DecodeImage(const uint8_t* data, size_t size, const std::string& name, size_t max_pixels) {
  const std::string where = "image '" + name + "'";
  if (data == nullptr || size == 0) throw Error(where + ": empty (0 bytes)");
  if (size > static_cast<size_t>(INT_MAX)) {
    throw Error(where + ": " + std::to_string(size) + " bytes, more than the decoder's limit");
  }
  const Format format = Sniff(data, size);
  if (format == Format::kUnknown) {
    throw Error(where + ": not a JPEG, PNG or BMP file (starts with " +
                Hex(data, std::min<size_t>(size, 8)) + ")");
  }
  const std::string what = where + " (" + FormatName(format) + ")";
  auto refuse_if_too_large = [&](uint64_t w, uint64_t h) {
    if (w * h > max_pixels) {
      throw Error(what + ": " + std::to_string(w) + "x" + std::to_string(h) + " = " +
                  std::to_string(w * h) + " pixels, more than the limit of " +
                  std::to_string(max_pixels) + " (refused before decoding)");
    }
  };

  // 1. Structure without decoding (truncation, CRCs, EXIF), and the size the header claims,
  //    read by us so the pixel limit applies even where stb's own probe gives up.
  std::string structure;
  const uint8_t* exif = nullptr;
  size_t exif_size = 0;
  if (format == Format::kJpeg) {
    const JpegScan scan = ScanJpeg(data, size);
    refuse_if_too_large(scan.frame_w, scan.frame_h);
    structure = scan.error;
    exif = scan.exif;
    exif_size = scan.exif_size;
  } else if (format == Format::kPng) {
    if (size >= 24) refuse_if_too_large(Be32(data + 16), Be32(data + 20));  // IHDR
    structure = ScanPng(data, size, &exif, &exif_size);
  } else {
    if (size >= 26 && Le32(data + 14) == 12) {  // OS/2 BITMAPCOREHEADER: 16-bit sizes
      refuse_if_too_large(Le16(data + 18), Le16(data + 20));
    } else if (size >= 26) {
      const int32_t bh = static_cast<int32_t>(Le32(data + 22));
      refuse_if_too_large(Le32(data + 18) & 0x7fffffffu, bh < 0 ? -static_cast<int64_t>(bh) : bh);
    }
    structure = ScanBmp(data, size);  // BMP has no EXIF
  }
  if (!structure.empty()) throw Error(what + ": " + structure);

  // 2. Decode. JPEG: libjpeg-turbo with OpenCV's settings (its own header read repeats the
  //    pixel-limit check before decoding).
  Image image;
  if (format == Format::kJpeg) {
    image = detail::DecodeJpeg(data, size, what, max_pixels);
  } else {
    // PNG/BMP: stb's header probe (the size it will decode), then stb's decoder.
    const int n = static_cast<int>(size);
    int w = 0, h = 0, channels = 0;
    const char* reason = "unknown error";
    if (!detail::StbInfo(data, n, &w, &h, &channels, &reason)) {
      throw Error(what + ": cannot read the header: " + reason);
    }
    // stb's BMP probe reports a top-down BMP (negative height) as is; the decoder flips it.
    if (format == Format::kBmp && h < 0 && h != INT_MIN) h = -h;
    if (w <= 0 || h <= 0) {
      throw Error(what + ": invalid size " + std::to_string(w) + "x" + std::to_string(h));
    }
    refuse_if_too_large(static_cast<uint64_t>(w), static_cast<uint64_t>(h));
    const size_t pixels = static_cast<size_t>(w) * static_cast<size_t>(h);

    int dw = 0, dh = 0;
    std::unique_ptr<uint8_t, void (*)(uint8_t*)> rgb(
        detail::StbDecodeRgb(data, n, &dw, &dh, &reason), &detail::StbFree);
    if (!rgb) throw Error(what + ": cannot decode: " + reason);
    if (dw != w || dh != h) {
      throw Error(what + ": decoded size " + std::to_string(dw) + "x" + std::to_string(dh) +
                  " differs from the header's " + std::to_string(w) + "x" + std::to_string(h));
    }
    image.width = w;
    image.height = h;
    image.bgr.resize(pixels * 3);
    const uint8_t* src = rgb.get();
    for (size_t i = 0; i < pixels * 3; i += 3) {
      image.bgr[i] = src[i + 2];
      image.bgr[i + 1] = src[i + 1];
      image.bgr[i + 2] = src[i];
    }
    if (format == Format::kBmp) {
      const std::array<uint8_t, 3> m = Bmp16Masks(data, size);
      if (m[0] != 0xff || m[1] != 0xff) {
        for (size_t i = 0; i < pixels * 3; i += 3) {
          image.bgr[i] &= m[0];
          image.bgr[i + 1] &= m[1];
          image.bgr[i + 2] &= m[2];
        }
      }
    }
  }
  const int orientation = exif ? ExifOrientationFromTiff(exif, exif_size) : 1;
  if (orientation != 1) image = ApplyExifOrientation(image, orientation);
  return image;
}

Image LoadImage(const std::string& path, size_t max_pixels) {
  const std::vector<uint8_t> bytes = ReadFile(path);
  return DecodeImage(bytes.data(), bytes.size(), path, max_pixels);
}

std::vector<uint8_t> EncodePng(const Image& image) {
  CheckEncodable(image, "EncodePng");
  const std::vector<uint8_t> rgb = ToRgb(image);
  std::vector<uint8_t> out;
  if (!detail::StbEncodePng(&AppendBytes, &out, image.width, image.height, 3, rgb.data())) {
    throw Error("EncodePng: stb_image_write failed");
  }
  return out;
}

std::vector<uint8_t> EncodeJpeg(const Image& image, int quality) {
  CheckEncodable(image, "EncodeJpeg");
  if (quality < 1 || quality > 100) {
    throw Error("EncodeJpeg: quality must be in 1..100, got " + std::to_string(quality));
  }
  const std::vector<uint8_t> rgb = ToRgb(image);
  std::vector<uint8_t> out;
  if (!detail::StbEncodeJpeg(&AppendBytes, &out, image.width, image.height, 3, rgb.data(),
                             quality)) {
    throw Error("EncodeJpeg: stb_image_write failed");
  }
  return out;
}

void WritePng(const std::string& path, const Image& image) {
  CheckEncodable(image, "WritePng '" + path + "'");
  WriteFile(path, EncodePng(image));
}

void WriteJpeg(const std::string& path, const Image& image, int quality) {
  CheckEncodable(image, "WriteJpeg '" + path + "'");
  WriteFile(path, EncodeJpeg(image, quality));
}

}  // namespace rtmo
