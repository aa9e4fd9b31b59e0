// libjpeg-turbo decoding with OpenCV 4.6's IMREAD_COLOR settings (see jpeg.h).
//
// libjpeg reports errors through error_exit, which must not return. C++ exceptions must not
// unwind through libjpeg's C frames, so error_exit longjmps back to a setjmp in one of the
// two small functions below (ReadHeader, ReadPixels). Those functions hold no object with a
// destructor and read no local variable after the jump; all libjpeg state lives in a Session
// owned (and destroyed with jpeg_destroy_decompress) by the C++ caller, so an error leaks
// nothing and skips no destructor.
#include "rtmo/io/jpeg.h"

#include <csetjmp>
#include <cstdio>  // jpeglib.h needs FILE and size_t declared first
#include <memory>
#include <string>
#include <vector>

// clang-format off
#include <jpeglib.h>
#include <jerror.h>
// clang-format on

#include "rtmo/error.h"

namespace rtmo::detail {
namespace {

struct ErrorManager {
  jpeg_error_mgr pub;  // first member: libjpeg hands back &pub as cinfo->err
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX + 16];  // "libjpeg: " + libjpeg's message, or our own
};

// Everything libjpeg touches, zero-initialized so jpeg_destroy_decompress is safe even if
// jpeg_create_decompress itself failed (it checks cinfo->mem for null).
struct Session {
  jpeg_decompress_struct cinfo;
  ErrorManager err;
  jpeg_progress_mgr progress;
};

ErrorManager* Manager(j_common_ptr cinfo) { return reinterpret_cast<ErrorManager*>(cinfo->err); }

[[noreturn]] void ErrorExit(j_common_ptr cinfo) {
  ErrorManager* err = Manager(cinfo);
  char text[JMSG_LENGTH_MAX] = {};
  (*err->pub.format_message)(cinfo, text);
  std::snprintf(err->message, sizeof(err->message), "libjpeg: %s", text);
  std::longjmp(err->jump, 1);
}

// Warnings after which libjpeg invents pixels (grey fill, zeroed coefficients): OpenCV
// prints them and returns the image; we refuse the file. Other warnings (extraneous bytes
// before a marker, unknown JFIF revision, bad ICC marker, ...) leave the pixels intact and are
// ignored as OpenCV ignores them.
bool InventsPixels(int code) {
  return code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER || code == JWRN_HUFF_BAD_CODE ||
         code == JWRN_ARITH_BAD_CODE || code == JWRN_MUST_RESYNC;
}

void EmitMessage(j_common_ptr cinfo, int msg_level) {
  if (msg_level < 0 && InventsPixels(cinfo->err->msg_code)) ErrorExit(cinfo);
}

void OutputMessage(j_common_ptr) {}  // never print: errors reach the caller as rtmo::Error

// Called by libjpeg while it absorbs the input (per iMCU row; for multi-scan files during
// jpeg_start_decompress): bounds the work a crafted file of many empty scans can cause.
void ProgressMonitor(j_common_ptr cinfo) {
  const auto* d = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (d->input_scan_number > kJpegMaxScans) {
    ErrorManager* err = Manager(cinfo);
    std::snprintf(err->message, sizeof(err->message), "more than %d scans (refused)",
                  kJpegMaxScans);
    std::longjmp(err->jump, 1);
  }
}

// Reads the header and chooses the output colour space as OpenCV does. False on error
// (message in s->err.message).
bool ReadHeader(Session* s, const uint8_t* data, size_t size) {
  if (setjmp(s->err.jump) != 0) return false;
  jpeg_create_decompress(&s->cinfo);
  s->cinfo.progress = &s->progress;
  jpeg_mem_src(&s->cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&s->cinfo, TRUE);
  s->cinfo.scale_num = 1;
  s->cinfo.scale_denom = 1;
  s->cinfo.out_color_space = s->cinfo.num_components == 4 ? JCS_CMYK : JCS_EXT_BGR;
  jpeg_calc_output_dimensions(&s->cinfo);
  return true;
}

// Decodes all rows into bgr [output_height, output_width, 3]. CMYK rows go through
// cmyk_row [output_width * 4] and CmykToBgr; other colour spaces are written directly.
// False on error (message in s->err.message).
bool ReadPixels(Session* s, uint8_t* bgr, uint8_t* cmyk_row) {
  if (setjmp(s->err.jump) != 0) return false;
  jpeg_start_decompress(&s->cinfo);
  while (s->cinfo.output_scanline < s->cinfo.output_height) {
    const size_t row_bytes = size_t{s->cinfo.output_width} * 3;
    uint8_t* out = bgr + s->cinfo.output_scanline * row_bytes;
    JSAMPROW row = cmyk_row != nullptr ? cmyk_row : out;
    if (jpeg_read_scanlines(&s->cinfo, &row, 1) != 1) {
      // The memory source never suspends, so this cannot happen; refuse rather than loop.
      std::snprintf(s->err.message, sizeof(s->err.message),
                    "libjpeg returned no scanline at row %u", s->cinfo.output_scanline);
      return false;
    }
    if (cmyk_row != nullptr) CmykToBgr(cmyk_row, out, s->cinfo.output_width);
  }
  jpeg_finish_decompress(&s->cinfo);
  return true;
}

struct SessionDeleter {
  void operator()(Session* s) const {
    jpeg_destroy_decompress(&s->cinfo);
    delete s;
  }
};

}  // namespace

void CmykToBgr(const uint8_t* cmyk, uint8_t* bgr, size_t n) {
  for (size_t i = 0; i < n; ++i, cmyk += 4, bgr += 3) {
    const int c = cmyk[0], m = cmyk[1], y = cmyk[2], k = cmyk[3];
    bgr[2] = static_cast<uint8_t>(k - ((255 - c) * k >> 8));
    bgr[1] = static_cast<uint8_t>(k - ((255 - m) * k >> 8));
    bgr[0] = static_cast<uint8_t>(k - ((255 - y) * k >> 8));
  }
}

Image DecodeJpeg(const uint8_t* data, size_t size, const std::string& what, size_t max_pixels) {
  // Value-initialized (all zero) before libjpeg sees it; see Session.
  std::unique_ptr<Session, SessionDeleter> s(new Session());
  s->cinfo.err = jpeg_std_error(&s->err.pub);
  s->err.pub.error_exit = &ErrorExit;
  s->err.pub.emit_message = &EmitMessage;
  s->err.pub.output_message = &OutputMessage;
  s->progress.progress_monitor = &ProgressMonitor;
  if (!ReadHeader(s.get(), data, size)) throw Error(what + ": " + s->err.message);

  const uint64_t w = s->cinfo.output_width, h = s->cinfo.output_height;
  if (w * h > max_pixels) {
    throw Error(what + ": " + std::to_string(w) + "x" + std::to_string(h) + " = " +
                std::to_string(w * h) + " pixels, more than the limit of " +
                std::to_string(max_pixels) + " (refused before decoding)");
  }
  const int channels = s->cinfo.out_color_components;
  if (channels != (s->cinfo.num_components == 4 ? 4 : 3)) {
    throw Error(what + ": libjpeg chose " + std::to_string(channels) + " output components for a " +
                std::to_string(s->cinfo.num_components) + "-component image");
  }
  Image image;
  image.width = static_cast<int>(w);
  image.height = static_cast<int>(h);
  image.bgr.resize(w * h * 3);
  std::vector<uint8_t> cmyk_row(channels == 4 ? w * 4 : 0);
  if (!ReadPixels(s.get(), image.bgr.data(), cmyk_row.empty() ? nullptr : cmyk_row.data())) {
    throw Error(what + ": " + s->err.message);
  }
  return image;
}

}  // namespace rtmo::detail
