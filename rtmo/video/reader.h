// Video input through FFmpeg (libavformat + libavcodec + libswscale): files, standard
// input, URLs FFmpeg opens (rtsp, http, udp ...) and, when libavdevice was found at build
// time, V4L2 cameras (/dev/videoN).
//
//   rtmo::VideoReader reader = rtmo::VideoReader::Open("clip.mp4");
//   rtmo::VideoFrame frame;
//   while (reader.Read(&frame)) { ... frame.image (BGR), frame.index, frame.pts_s ... }
//
// Frames are converted to interleaved BGR uint8 the way cv2.VideoCapture (OpenCV's FFmpeg
// backend) does it: one libswscale conversion from the decoder's pixel format to BGR24 at
// the same size with SWS_BICUBIC and swscale's default colour matrix (BT.601, limited
// range, unless the stream says otherwise and swscale honours it). README "Video" lists
// where results can still differ from OpenCV.
#ifndef RTMO_VIDEO_READER_H_
#define RTMO_VIDEO_READER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "rtmo/rtmo.h"

namespace rtmo {

struct VideoFrame {
  Image image;        // BGR, width x height of the stream
  int64_t index = 0;  // 0-based position in the stream (frames skipped by start_s count)
  double pts_s = 0;   // presentation time in seconds, relative to the stream's start time
};

struct VideoReaderOptions {
  double start_s = 0;       // skip frames with pts_s < start_s (decoded, not returned)
  int decoder_threads = 1;  // libavcodec's frame/slice threads (1: decode on the caller's thread)
  // Apply the container's display rotation (phone videos) as OpenCV does by default
  // (CAP_PROP_ORIENTATION_AUTO): multiples of 90 degrees; frames then have the displayed size.
  bool auto_rotate = true;
};

struct VideoInfo {
  std::string source;  // as given to Open
  std::string format;  // container (libavformat's short name, e.g. "mov,mp4,m4a,3gp,3g2,mj2")
  std::string codec;   // e.g. "h264"
  int width = 0, height = 0;
  double fps = 0;                // average frame rate (0 if unknown)
  int fps_num = 0, fps_den = 1;  // the same as a fraction (0/1 if unknown)
  int64_t frame_count = -1;      // from the container, -1 if unknown (streams, some formats)
  double duration_s = -1;        // -1 if unknown
  int rotation = 0;              // clockwise degrees (0, 90, 180, 270) applied to every frame
};

class VideoReader {
 public:
  // source: a file path, "-" (standard input), a URL FFmpeg opens, or /dev/videoN. Throws
  // rtmo::Error naming the source when it cannot be opened, has no video stream or its
  // decoder is missing.
  static VideoReader Open(const std::string& source, const VideoReaderOptions& options = {});

  // The next frame into *frame; false at the end of the stream. Throws rtmo::Error naming the
  // source and the frame number when the data cannot be demuxed or decoded (the frames
  // returned before stay valid).
  bool Read(VideoFrame* frame);

  const VideoInfo& info() const;

  VideoReader(VideoReader&&) noexcept;
  VideoReader& operator=(VideoReader&&) noexcept;
  ~VideoReader();

  struct Impl;

 private:
  explicit VideoReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// True if FFmpeg can read V4L2 cameras in this build (libavdevice was found).
bool VideoHasCameraSupport();

}  // namespace rtmo

#endif  // RTMO_VIDEO_READER_H_
