// JPEG decoding with libjpeg-turbo, configured as OpenCV 4.6's JpegDecoder configures it for
// cv2.imread(path, IMREAD_COLOR), so the pixels are bit-identical to cv2.imread's on Debian 12
// (python3-opencv links the same libjpeg62-turbo). Internal to rtmo/io/image.cc, which does
// the marker walk (truncation, EXIF) and applies the EXIF orientation afterwards.
//
// The settings, read from OpenCV's modules/imgcodecs/src/grfmt_jpeg.cpp (facts only):
//   * jpeg_read_header(require_image = TRUE), scale 1/1, then jpeg_calc_output_dimensions;
//   * libjpeg's defaults otherwise: dct_method JDCT_ISLOW, do_fancy_upsampling TRUE,
//     do_block_smoothing TRUE (progressive), no quantization/dithering;
//   * num_components != 4 (grey, YCbCr, RGB): out_color_space JCS_EXT_BGR (libjpeg itself
//     expands grey to B=G=R and converts YCbCr/RGB);
//   * num_components == 4 (CMYK, or YCCK which libjpeg turns into CMYK): out_color_space
//     JCS_CMYK, then OpenCV's own conversion with the inverted (Adobe) convention:
//     R = K - ((255 - C) * K >> 8), G likewise from M, B from Y.
#ifndef RTMO_IO_JPEG_H_
#define RTMO_IO_JPEG_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "rtmo/rtmo.h"

namespace rtmo::detail {

// Decodes a JPEG to BGR without applying any EXIF orientation.
// data: [size] bytes -> Image [height, width, 3] BGR.
// Throws rtmo::Error("<what>: libjpeg: <libjpeg's message>") on any libjpeg error, and also on
// the warnings that mean pixels were made up (truncated file, premature end of a data segment,
// bad Huffman/arithmetic code, lost restart marker), which OpenCV would only print; refuses
// with rtmo::Error a header claiming more than max_pixels (before any pixel is decoded) and a
// stream with more than kJpegMaxScans scans (a denial-of-service guard: real files have < 20).
inline constexpr int kJpegMaxScans = 1000;
Image DecodeJpeg(const uint8_t* data, size_t size, const std::string& what, size_t max_pixels);

// OpenCV's CMYK -> BGR conversion (icvCvt_CMYK2BGR_8u_C4C3R), exposed for tests.
// cmyk: [n, 4] -> bgr: [n, 3].
void CmykToBgr(const uint8_t* cmyk, uint8_t* bgr, size_t n);

}  // namespace rtmo::detail

#endif  // RTMO_IO_JPEG_H_
