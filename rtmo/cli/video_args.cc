#include "rtmo/cli/video_args.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "rtmo/cli/args.h"
#include "rtmo/cli/files.h"

namespace rtmo::cli {
namespace {

double Number(const std::string& opt, const std::string& v, double lo, double hi) {
  errno = 0;
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || end != v.c_str() + v.size() || errno != 0 || !std::isfinite(x) || x < lo ||
      x > hi) {
    throw UsageError{opt + ": expected a number in [" + std::to_string(lo) + ", " +
                     std::to_string(hi) + "], got '" + v + "'"};
  }
  return x;
}

int Integer(const std::string& opt, const std::string& v, long lo, long hi) {
  errno = 0;
  char* end = nullptr;
  const long x = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || end != v.c_str() + v.size() || errno != 0 || x < lo || x > hi) {
    throw UsageError{opt + ": expected an integer in [" + std::to_string(lo) + ", " +
                     std::to_string(hi) + "], got '" + v + "'"};
  }
  return static_cast<int>(x);
}

}  // namespace

bool ParseVideoOption(const std::string& name, const std::function<std::string()>& value,
                      const std::function<void()>& flag, VideoOptions* v) {
  constexpr double kMaxSeconds = 1e9;
  if (name == "--draw-video") {
    v->draw_video = value();
    if (v->draw_video.empty()) throw UsageError{name + " needs a non-empty value"};
  } else if (name == "--track") {
    flag();
    v->track = true;
  } else if (name == "--every") {
    v->every = Integer(name, value(), 1, 1000000);
  } else if (name == "--start") {
    v->start_s = Number(name, value(), 0, kMaxSeconds);
  } else if (name == "--duration") {
    v->duration_s = Number(name, value(), 0, kMaxSeconds);
  } else if (name == "--track-high") {
    v->track_high = Number(name, value(), 0, 1);
  } else if (name == "--track-low") {
    v->track_low = Number(name, value(), 0, 1);
  } else if (name == "--track-match") {
    v->track_match = Number(name, value(), 0, 1);
  } else if (name == "--track-iou-weight") {
    v->track_iou_weight = Number(name, value(), 0, 1);
  } else if (name == "--track-max-age") {
    v->track_max_age = Integer(name, value(), 0, 1000000);
  } else {
    return false;
  }
  return true;
}

bool HasVideoExtension(std::string_view path) {
  const std::string ext = LowerExtension(path);
  for (const char* e :
       {"mp4", "mkv", "avi", "mov", "webm", "m4v", "mpg", "mpeg", "ts", "flv", "wmv", "3gp"}) {
    if (ext == e) return true;
  }
  return false;
}

bool IsVideoInput(std::string_view input) {
  if (input == "-") return true;
  if (input.rfind("/dev/video", 0) == 0) return true;
  const size_t scheme = input.find("://");
  if (scheme != std::string_view::npos && scheme > 0) return true;
  return HasVideoExtension(input);
}

std::string VideoUsageText() {
  return R"(
video: INPUT may also be one video: a file (.mp4 .mkv .avi .mov .webm ...), - (standard
input), a URL FFmpeg opens (rtsp:// http:// udp:// ...) or a camera (/dev/video0).
  --json FILE           JSON Lines, one line per processed frame, written as frames complete:
                        {"frame","pts_s","width","height","people":[{"track_id","bbox",
                        "score","keypoints"}]}
  --draw FILE.mp4, --draw-video FILE
                        write the drawn video (H.264; same size; frame rate / N with --every)
  --track               give people stable ids across frames (track_id; -1 without --track)
  --every N             process every N-th frame (default 1)
  --start S             start at S seconds;  --duration S: stop after S seconds
  --track-high T        detections with score >= T start tracks (default 0.5)
  --track-low T         weaker ones (>= T) only continue tracks (default 0.1)
  --track-match T       minimum similarity (IoU/OKS mix) of a match (default 0.3)
  --track-iou-weight W  similarity = W * IoU + (1 - W) * OKS (default 0.5)
  --track-max-age N     keep a lost track for N frames (default 30)
  Ctrl-C stops after the current frame and keeps the outputs complete up to it.
)";
}

}  // namespace rtmo::cli
