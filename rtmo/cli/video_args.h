// The `rtmo` command's video options (video issue 17), parsed by ParseArgs through
// ParseVideoOption so args.cc only needs one hook. No FFmpeg dependency.
#ifndef RTMO_CLI_VIDEO_ARGS_H_
#define RTMO_CLI_VIDEO_ARGS_H_

#include <functional>
#include <string>
#include <string_view>

namespace rtmo::cli {

struct VideoOptions {
  std::string draw_video;  // --draw-video FILE (also --draw FILE.mp4 with a video input)
  bool track = false;      // --track: stable track ids across frames
  int every = 1;           // --every N: process frames 0, N, 2N ... (after --start)
  double start_s = 0;      // --start S: first frame at or after S seconds
  double duration_s = -1;  // --duration S: stop at start + S seconds (-1: to the end)
  // Tracker parameters (rtmo/video/tracker.h, TrackerOptions; same defaults).
  double track_high = 0.5;        // --track-high T
  double track_low = 0.1;         // --track-low T
  double track_match = 0.3;       // --track-match T
  double track_iou_weight = 0.5;  // --track-iou-weight W
  int track_max_age = 30;         // --track-max-age N (frames)
};

// Handles one video option: `name` is the option (e.g. "--every"), `value` returns its
// value (or throws UsageError), `flag` throws if a value was attached to a flag. Returns
// false for a name that is not a video option. Throws UsageError for a bad value.
bool ParseVideoOption(const std::string& name, const std::function<std::string()>& value,
                      const std::function<void()>& flag, VideoOptions* video);

// True for INPUTs read as video: "-" (standard input), URLs ("scheme://..."), /dev/videoN,
// and files with a video extension (.mp4 .mkv .avi .mov .webm .m4v .mpg .mpeg .ts .flv
// .wmv .3gp, any case).
bool IsVideoInput(std::string_view input);

// True if `path` ends with a video container extension (as above).
bool HasVideoExtension(std::string_view path);

// The video part of --help.
std::string VideoUsageText();

}  // namespace rtmo::cli

#endif  // RTMO_CLI_VIDEO_ARGS_H_
