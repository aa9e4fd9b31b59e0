// Video output through FFmpeg: BGR frames -> H.264 (libx264) in the container named by the
// file extension (.mp4, .mkv, .mov, .avi ...), MPEG-4 part 2 when no H.264 encoder exists.
//
// The file is written to a temporary name in the target directory and renamed into place
// by Close(): a reader never sees a half-written video under the final name, and an
// existing file is only replaced by a complete one. Destroying an unclosed writer removes
// the temporary file.
#ifndef RTMO_VIDEO_WRITER_H_
#define RTMO_VIDEO_WRITER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "rtmo/rtmo.h"

namespace rtmo {

struct VideoWriterOptions {
  int width = 0, height = 0;  // every frame must have this size (> 0)
  // Frame rate as a fraction (fps_num / fps_den frames per second), e.g. 30000/1001.
  int fps_num = 25, fps_den = 1;
  int crf = 20;                     // libx264 constant rate factor (lower = better quality)
  std::string preset = "veryfast";  // libx264 speed/size trade-off
  std::string encoder;              // force an encoder by name (default: libx264, h264, mpeg4)
  int threads = 1;  // encoder threads (1 keeps the cores for the network; 0 = FFmpeg's choice)
};

class VideoWriter {
 public:
  // Opens `path` for writing (through a temporary file, see above). Throws rtmo::Error
  // naming the path when the container is unknown, no encoder is available or the
  // directory is not writable.
  static VideoWriter Open(const std::string& path, const VideoWriterOptions& options);

  // Encodes one frame (shown 1/fps after the previous one). Throws rtmo::Error naming the
  // path if the size differs or encoding fails.
  void Write(const Image& frame);

  // Flushes the encoder, finishes the container and renames the file into place.
  void Close();

  const std::string& encoder_name() const;
  // The temporary file being written (empty after Close); for signal handlers.
  const std::string& temp_path() const;
  int64_t frames_written() const;

  VideoWriter(VideoWriter&&) noexcept;
  VideoWriter& operator=(VideoWriter&&) noexcept;
  ~VideoWriter();

  struct Impl;

 private:
  explicit VideoWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rtmo

#endif  // RTMO_VIDEO_WRITER_H_
