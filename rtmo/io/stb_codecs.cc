// The one translation unit that compiles stb_image and stb_image_write (see stb_codecs.h).
#include "rtmo/io/stb_codecs.h"

// stb is third-party C; keep its warnings out of our -Wall -Wextra build.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wunused-parameter"

#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_NO_STDIO  // we read files ourselves (error messages, size limits)
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#include <stb/stb_image.h>

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#include <stb/stb_image_write.h>

#pragma GCC diagnostic pop

namespace rtmo::detail {

bool StbInfo(const uint8_t* data, int size, int* width, int* height, int* channels,
             const char** reason) {
  if (stbi_info_from_memory(data, size, width, height, channels) == 1) return true;
  *reason = stbi_failure_reason();
  return false;
}

uint8_t* StbDecodeRgb(const uint8_t* data, int size, int* width, int* height, const char** reason) {
  int channels_in_file = 0;
  uint8_t* pixels = stbi_load_from_memory(data, size, width, height, &channels_in_file, 3);
  if (pixels == nullptr) *reason = stbi_failure_reason();
  return pixels;
}

void StbFree(uint8_t* pixels) { stbi_image_free(pixels); }

bool StbEncodePng(StbWriteFn fn, void* context, int width, int height, int channels,
                  const uint8_t* pixels) {
  return stbi_write_png_to_func(fn, context, width, height, channels, pixels, width * channels) !=
         0;
}

bool StbEncodeJpeg(StbWriteFn fn, void* context, int width, int height, int channels,
                   const uint8_t* pixels, int quality) {
  return stbi_write_jpg_to_func(fn, context, width, height, channels, pixels, quality) != 0;
}

}  // namespace rtmo::detail
