// Thin, internal wrappers around stb_image / stb_image_write (Debian libstb-dev headers).
//
// stb is compiled into exactly one translation unit (rtmo/io/stb_codecs.cc) with
// STB_IMAGE_STATIC, so its symbols never clash with Debian's libstb.so if another target
// links it, and only the three formats we promise (JPEG, PNG, BMP) are compiled in: stb's
// TGA probe accepts almost any byte string, which would turn "not an image" into garbage.
// Callers (rtmo/io/image.cc) do all validation and error reporting; these return false/nullptr
// and a static reason string from stb.
#ifndef RTMO_STB_CODECS_H_
#define RTMO_STB_CODECS_H_

#include <cstddef>
#include <cstdint>

namespace rtmo::detail {

// Header probe without decoding: dimensions and channel count as stored in the file.
bool StbInfo(const uint8_t* data, int size, int* width, int* height, int* channels,
             const char** reason);

// Full decode to 8-bit RGB (3 channels, interleaved): grey -> R=G=B, alpha dropped, 16-bit
// samples -> high byte. Returns nullptr on failure. Free with StbFree.
uint8_t* StbDecodeRgb(const uint8_t* data, int size, int* width, int* height, const char** reason);
void StbFree(uint8_t* pixels);

// Encoders writing through a callback (we do the file I/O ourselves for error messages).
// pixels: [height, width, channels] uint8 interleaved, channels in 1..4 (RGB order).
using StbWriteFn = void (*)(void* context, void* data, int size);
bool StbEncodePng(StbWriteFn fn, void* context, int width, int height, int channels,
                  const uint8_t* pixels);
bool StbEncodeJpeg(StbWriteFn fn, void* context, int width, int height, int channels,
                   const uint8_t* pixels, int quality);

}  // namespace rtmo::detail

#endif  // RTMO_STB_CODECS_H_
