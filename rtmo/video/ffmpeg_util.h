// Internal helpers shared by the FFmpeg-based reader and writer (not installed API).
#ifndef RTMO_VIDEO_FFMPEG_UTIL_H_
#define RTMO_VIDEO_FFMPEG_UTIL_H_

#include <string>

namespace rtmo::video_internal {

// FFmpeg's text for an AVERROR code, e.g. "Invalid data found when processing input".
std::string AvErrorText(int err);

// Routes FFmpeg's own log through a handler that prints nothing and keeps the last
// error-level line (FFmpeg would otherwise write to stderr over the
// progress bar). Idempotent.
void InstallQuietLog();

// The last error-level FFmpeg log line ("" if none), then forgets it.
std::string TakeLastLogLine();

}  // namespace rtmo::video_internal

#endif  // RTMO_VIDEO_FFMPEG_UTIL_H_
