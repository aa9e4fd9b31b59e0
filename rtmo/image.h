// Image decoding and encoding: what cv2.imread(path, IMREAD_COLOR) gives, without OpenCV.
//
// Decoding uses stb_image (JPEG, PNG, BMP) and reproduces OpenCV 4.6's IMREAD_COLOR
// conventions: output is interleaved BGR uint8; grey becomes B=G=R; alpha is dropped (not
// blended); 16-bit PNG samples keep their high byte (v >> 8); the JPEG EXIF orientation
// (JPEG APP1 / PNG eXIf, tag 0x0112) is applied with the same 8 transforms as OpenCV.
// PNG and BMP pixels are identical to OpenCV's; JPEG pixels differ by a few levels because
// stb's IDCT/upsampling is not libjpeg-turbo's (tests/tools/test_image_vs_opencv.py
// measures it). Unlike OpenCV, truncated files are errors, not partially grey images.
//
// rtmo::Image and rtmo::LoadImage(path, max_pixels) are declared in rtmo/rtmo.h.
#ifndef RTMO_IMAGE_H_
#define RTMO_IMAGE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "rtmo/rtmo.h"

namespace rtmo {

// Decodes an encoded JPEG/PNG/BMP held in memory exactly as LoadImage decodes a file.
// `name` is only used in error messages. Throws rtmo::Error (naming `name` and the reason)
// on empty input, unknown format, truncation, a corrupt stream, or a header that claims more
// than max_pixels (checked before any pixel is decoded).
// data: [size] bytes -> Image [height, width, 3] BGR.
Image DecodeImage(const uint8_t* data, size_t size, const std::string& name,
                  size_t max_pixels = kDefaultMaxPixels);

// EXIF orientation (1..8) where OpenCV 4.6's imread finds it: JPEG: IFD0 tag 0x0112 of the
// TIFF block in the FIRST APP1 segment (after its 6-byte identifier, which OpenCV does not
// check); PNG: the first eXIf chunk. Returns 1 (no transform) if there is none or the value
// is outside 1..8. Never reads outside [data, data + size).
int ExifOrientation(const uint8_t* data, size_t size);

// Applies an EXIF orientation to a decoded image, as OpenCV's imread does:
//   1 none, 2 flip left-right, 3 rotate 180, 4 flip top-bottom, 5 transpose,
//   6 transpose + flip left-right (= rotate 90 clockwise), 7 transpose + rotate 180,
//   8 transpose + flip top-bottom (= rotate 90 counter-clockwise). Other values: none.
// image: [h, w, 3] -> [h, w, 3] for 1..4, [w, h, 3] for 5..8.
Image ApplyExifOrientation(const Image& image, int orientation);

// Encoders for drawings and tests (stb_image_write). Throw rtmo::Error naming the file if
// the image is empty/inconsistent or the file cannot be written.
// image: [h, w, 3] BGR -> file.
void WritePng(const std::string& path, const Image& image);
void WriteJpeg(const std::string& path, const Image& image, int quality = 95);
// The same encoders into memory (e.g. for an HTTP response or a test).
std::vector<uint8_t> EncodePng(const Image& image);
std::vector<uint8_t> EncodeJpeg(const Image& image, int quality = 95);

}  // namespace rtmo

#endif  // RTMO_IMAGE_H_
