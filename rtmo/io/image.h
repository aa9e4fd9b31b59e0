// Image decoding and encoding: what cv2.imread(path, IMREAD_COLOR) gives, without OpenCV.
//
// JPEG is decoded by libjpeg-turbo with OpenCV 4.6's decoder settings (rtmo/io/jpeg.h), PNG
// and BMP by stb_image with OpenCV 4.6's IMREAD_COLOR conventions: output is interleaved BGR
// uint8; grey becomes B=G=R; alpha is dropped (not blended); 16-bit PNG samples keep their
// high byte (v >> 8); 16-bit BMP channels expand as v << 3 (green of 5-6-5: v << 2); CMYK and
// YCCK JPEGs go through OpenCV's inverted-CMYK formula; the EXIF orientation (JPEG APP1 / PNG
// eXIf, tag 0x0112) is applied with the same 8 transforms as OpenCV, from the same place
// OpenCV reads it.
//
// Verified against Debian's OpenCV 4.6 (tests/tools/test_image_vs_opencv.py), identical
// pixels on:
//   * PNG (1..16-bit, grey, grey+alpha, RGB, RGBA, palette, tRNS, Adam7) and BMP (1/4/8-bit
//     palette, 16-bit 5-5-5 / 5-6-5, 24-bit, 32-bit, bitfields, top-down);
//   * JPEG (Debian's libjpeg62-turbo, the library python3-opencv links): baseline,
//     progressive, arithmetic, restart markers, every chroma subsampling, grey, RGB,
//     CMYK/YCCK, EXIF orientations.
// Known differences from cv2.imread, all on unusual or broken files:
//   * Truncated or corrupt files are errors (OpenCV returns a partially grey JPEG with a
//     warning); so are JPEGs whose entropy-coded data libjpeg reports as corrupt (it then
//     invents pixels), JPEGs with more than 1000 scans, with a Huffman table of more than 256
//     codes or two frame headers (libjpeg also rejects those two).
//   * RLE-compressed BMP is refused (stb has no RLE; OpenCV reads it). 12-bit JPEG is refused
//     by both. Other formats (TIFF, WebP, ...) are refused.
//   * EXIF: if an IFD0 entry before the orientation tag is malformed (e.g. a string whose
//     offset points outside the block), OpenCV discards the whole EXIF block (no rotation);
//     we still read the orientation tag.
// rtmo::Image and rtmo::LoadImage(path, max_pixels) are declared in rtmo/rtmo.h.
#ifndef RTMO_IMAGE_H_
#define RTMO_IMAGE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "rtmo/rtmo.h"

namespace rtmo {

// DecodeImage (decoding from memory) is declared in rtmo/rtmo.h with LoadImage: it throws
// rtmo::Error (naming `name` and the reason) on empty input, unknown format, truncation, a
// corrupt stream, or a header that claims more than max_pixels (checked before any pixel is
// decoded). data: [size] bytes -> Image [height, width, 3] BGR.

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
