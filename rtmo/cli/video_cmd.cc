#include "rtmo/cli/video_cmd.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <future>
#include <nlohmann/json.hpp>
#include <optional>

#include "rtmo/cli/progress.h"
#include "rtmo/cli/video_args.h"
#include "rtmo/error.h"
#ifdef RTMO_HAVE_VIDEO
#include "rtmo/video/reader.h"
#include "rtmo/video/tracker.h"
#include "rtmo/video/writer.h"
#endif

namespace rtmo::cli {
namespace fs = std::filesystem;

bool HasVideoInput(const Options& o) {
  for (const std::string& in : o.inputs) {
    // A directory named like a video ("clips.mp4/") is still a directory of images.
    std::error_code ec;
    if (IsVideoInput(in) && !fs::is_directory(in, ec)) return true;
  }
  return false;
}

#ifndef RTMO_HAVE_VIDEO

int HandOverVideo(const Options& o, char* const argv[], std::FILE* err) {
#ifndef RTMO_VIDEO_LIBEXEC
  // No rtmo-video in this build (FFmpeg missing or RTMO_WITH_VIDEO=OFF): RunVideo refuses.
  (void)o, (void)argv, (void)err;
  return -1;
#else
  const std::string* video = nullptr;
  for (const std::string& in : o.inputs) {
    std::error_code ec;
    if (IsVideoInput(in) && !fs::is_directory(in, ec)) {
      video = &in;
      break;
    }
  }
  if (video == nullptr) return -1;
  // /proc/self/exe: the program's real file, whatever argv[0] or a symlink on PATH says.
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  std::string tried;
  if (ec) {
    tried = "/proc/self/exe (" + ec.message() + ")";
  } else {
    const fs::path dir = self.parent_path();
    for (const fs::path& exe :
         {dir / "rtmo-video", (dir / RTMO_VIDEO_LIBEXEC / "rtmo-video").lexically_normal()}) {
      execv(exe.c_str(), argv);  // returns only on failure
      tried += (tried.empty() ? "" : ", ") + exe.native() + " (" + std::strerror(errno) + ")";
    }
  }
  std::fprintf(err,
               "rtmo: error: %s: a video input needs rtmo-video, this command built with "
               "FFmpeg (installed with it, in libexec/rtmo/), which could not be run: tried %s\n",
               video->c_str(), tried.c_str());
  return 1;
#endif
}

int RunVideo(const Options& o, const std::string&, const PredictFn&, RunStats* stats,
             std::FILE* err) {
  *stats = {};
  std::fprintf(err,
               "rtmo: error: %s: this build has no video support (FFmpeg libraries were not "
               "found when it was configured: apt install libavformat-dev libavcodec-dev "
               "libswscale-dev libavutil-dev, then re-run cmake)\n",
               o.inputs.empty() ? "?" : o.inputs[0].c_str());
  return 1;
}

#else

namespace {

using json = nlohmann::ordered_json;

// Ctrl-C / SIGTERM: the first asks the frame loop to stop after the current frame (outputs
// are then finished normally); a second one renames what the JSON Lines file holds into
// place, removes the unfinished video and dies of the signal. Fixed buffers: the handler
// may only make async-signal-safe calls.
volatile std::sig_atomic_t g_stop = 0;
char g_json_temp[4096], g_json_path[4096], g_video_temp[4096];

extern "C" void OnStopSignal(int sig) {
  if (!g_stop) {
    g_stop = 1;
    return;
  }
  if (g_json_temp[0]) rename(g_json_temp, g_json_path);
  if (g_video_temp[0]) unlink(g_video_temp);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

void CopyPath(char* dst, const std::string& s) {
  if (s.size() + 1 > sizeof(g_json_temp)) {
    dst[0] = 0;
    return;
  }
  std::memcpy(dst, s.c_str(), s.size() + 1);
}

// Installs OnStopSignal for the lifetime of the object; restores the previous handlers.
class StopSignals {
 public:
  StopSignals() {
    g_stop = 0;
    g_json_temp[0] = g_json_path[0] = g_video_temp[0] = 0;
    old_int_ = std::signal(SIGINT, OnStopSignal);
    old_term_ = std::signal(SIGTERM, OnStopSignal);
  }
  ~StopSignals() {
    std::signal(SIGINT, old_int_);
    std::signal(SIGTERM, old_term_);
    g_json_temp[0] = g_json_path[0] = g_video_temp[0] = 0;
  }

 private:
  void (*old_int_)(int);
  void (*old_term_)(int);
};

// A JSON Lines file written line by line into a temporary file next to `path`, flushed
// after every line, renamed to `path` by Finish().
class LinesFile {
 public:
  explicit LinesFile(const std::string& path) : path_(path) {
    const fs::path target(path);
    const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
    temp_ = (dir / ("." + target.filename().native() + ".tmp.XXXXXX")).native();
    const int fd = mkstemp(temp_.data());
    if (fd < 0) {
      throw Error(path + ": cannot create a temporary file in '" + dir.native() +
                  "': " + std::strerror(errno));
    }
    const mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    file_ = fdopen(fd, "w");
    if (!file_) {
      close(fd);
      unlink(temp_.c_str());
      throw Error(path + ": cannot open the temporary file: " + std::strerror(errno));
    }
    CopyPath(g_json_temp, temp_);
    CopyPath(g_json_path, path_);
  }
  ~LinesFile() {
    if (file_) {
      std::fclose(file_);
      unlink(temp_.c_str());
      g_json_temp[0] = 0;
    }
  }
  void Write(const std::string& line) {
    if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_)) {
      throw Error(path_ + ": write failed: " + std::strerror(errno));
    }
  }
  void Finish() {
    FILE* f = file_;
    file_ = nullptr;
    const bool ok = std::fflush(f) == 0 && fsync(fileno(f)) == 0;
    const int e = errno;
    const bool closed = std::fclose(f) == 0;
    g_json_temp[0] = 0;
    if (!ok || !closed || rename(temp_.c_str(), path_.c_str()) != 0) {
      const int e2 = ok && closed ? errno : e;
      unlink(temp_.c_str());
      throw Error(path_ + ": cannot finish the file: " + std::strerror(e2));
    }
  }

 private:
  std::string path_, temp_;
  FILE* file_ = nullptr;
};

std::string FrameLine(int64_t frame, double pts_s, const Image& image,
                      const std::vector<Person>& people) {
  json ps = json::array();
  for (const Person& p : people) {
    json kpts = json::array();
    for (const Keypoint& k : p.keypoints) kpts.push_back({k.x, k.y, k.score});
    ps.push_back({{"track_id", p.track_id},
                  {"bbox", {p.bbox[0], p.bbox[1], p.bbox[2], p.bbox[3]}},
                  {"score", p.score},
                  {"keypoints", std::move(kpts)}});
  }
  json line = json::object();
  line["frame"] = frame;
  line["pts_s"] = pts_s;
  line["width"] = image.width;
  line["height"] = image.height;
  line["people"] = std::move(ps);
  return line.dump() + "\n";
}

// True if `a` and `b` name the same file (existing: same inode; else the same normalized
// absolute path).
bool SameFile(const std::string& a, const std::string& b) {
  std::error_code ec;
  if (fs::equivalent(a, b, ec) && !ec) return true;
  const fs::path pa = fs::weakly_canonical(fs::absolute(a, ec), ec);
  const fs::path pb = fs::weakly_canonical(fs::absolute(b, ec), ec);
  return pa == pb;
}

// One frame in flight.
struct Slot {
  VideoFrame frame;
  std::vector<Person> people;
};

}  // namespace

int HandOverVideo(const Options&, char* const[], std::FILE*) {
  return -1;  // this program decodes video itself
}

int RunVideo(const Options& o, const std::string& model_label, const PredictFn& predict,
             RunStats* stats, std::FILE* err) {
  *stats = {};
  auto report = [&](const std::string& msg) {
    std::fprintf(err, "rtmo: error: %s\n", msg.c_str());
  };
  const VideoOptions& v = o.video;
  if (o.inputs.size() != 1) {
    report("a video is processed on its own: give one video INPUT (got " +
           std::to_string(o.inputs.size()) + " inputs)");
    return 1;
  }
  const std::string& source = o.inputs[0];
  // Checks that need no decoding first.
  if (!o.coco_results_path.empty()) {
    report("--coco-results is for COCO image sets (it needs image ids); for a video use --json");
    return 1;
  }
  if (!o.dump_dir.empty()) {
    report("--dump is for single images; for a video use --json");
    return 1;
  }
  std::string draw_path = v.draw_video;
  if (!o.draw_dir.empty()) {
    if (!draw_path.empty()) {
      report("--draw and --draw-video both given: use one");
      return 1;
    }
    if (!HasVideoExtension(o.draw_dir)) {
      report("--draw " + o.draw_dir +
             ": for a video input, --draw takes the output video's file name (.mp4, .mkv, .mov, "
             ".avi)");
      return 1;
    }
    draw_path = o.draw_dir;
  }
  const bool source_is_file = source != "-" && source.find("://") == std::string::npos;
  for (const std::string& out : {o.json_path, draw_path}) {
    if (out.empty()) continue;
    if (source_is_file && SameFile(out, source)) {
      report(out + ": is the input video; refusing to overwrite it (nothing was processed)");
      return 1;
    }
    std::error_code ec;
    if (fs::is_directory(out, ec)) {
      report(out + ": is a directory; give a file name (nothing was processed)");
      return 1;
    }
    const fs::path parent = fs::path(out).parent_path();
    if (!parent.empty() && !fs::is_directory(parent)) {
      report(out + ": the directory '" + parent.native() +
             "' does not exist (nothing was processed)");
      return 1;
    }
  }
  if (!o.json_path.empty() && !draw_path.empty() && SameFile(o.json_path, draw_path)) {
    report(o.json_path + ": given both as --json and as the drawn video");
    return 1;
  }

  std::optional<VideoReader> reader;
  try {
    VideoReaderOptions ro;
    ro.start_s = v.start_s;
    reader.emplace(VideoReader::Open(source, ro));
  } catch (const Error& e) {
    report(e.what());
    stats->failed = 1;
    return 1;
  }
  const VideoInfo& info = reader->info();
  std::optional<Tracker> tracker;
  try {
    if (v.track) {
      TrackerOptions to;
      to.high_score = v.track_high;
      to.low_score = v.track_low;
      to.match_thr = v.track_match;
      to.iou_weight = v.track_iou_weight;
      to.max_age = v.track_max_age;
      to.kpt_thr = o.kpt_thr;
      tracker.emplace(to);
    }
  } catch (const Error& e) {
    report(e.what());
    return 1;
  }

  StopSignals signals;
  std::optional<LinesFile> lines;
  std::optional<VideoWriter> writer;
  auto open_writer = [&](int width, int height) {
    VideoWriterOptions wo;
    wo.width = width;
    wo.height = height;
    // Every N-th frame at 1/N of the rate keeps the video's duration; 25 fps when the
    // stream does not say (some live streams).
    wo.fps_num = info.fps_num > 0 ? info.fps_num : 25;
    wo.fps_den = (info.fps_num > 0 ? info.fps_den : 1) * v.every;
    writer.emplace(VideoWriter::Open(draw_path, wo));
    CopyPath(g_video_temp, writer->temp_path());
  };
  try {
    if (!o.json_path.empty()) lines.emplace(o.json_path);
    // Opened now when the size is known, so a bad output is reported before any work;
    // else (a stream that only tells its size with the first frame) at the first frame.
    if (!draw_path.empty() && info.width > 0 && info.height > 0) {
      open_writer(info.width, info.height);
    }
  } catch (const Error& e) {
    report(std::string(e.what()) + " (nothing was processed)");
    return 1;
  }

  // Frames to process, when the container knows its length (for the progress bar).
  int64_t total = info.frame_count;
  if (total > 0 && info.fps > 0) {
    double end_s = info.frame_count / info.fps;
    if (v.duration_s >= 0) end_s = std::min(end_s, v.start_s + v.duration_s);
    total = static_cast<int64_t>(std::ceil((end_s - v.start_s) * info.fps - 1e-6));
    total = total > 0 ? (total + v.every - 1) / v.every : 0;
  }
  Progress progress(total > 0 ? static_cast<int>(total) : 0,
                    total > 0 && !o.quiet && isatty(fileno(err)), err);

  DrawOptions draw;
  draw.kpt_thr = o.kpt_thr;
  draw.title = o.title;
  PredictOptions po;
  po.score_thr = o.score_thr;
  po.nms_thr = o.nms_thr;

  // Three slots: the network works on slot i%3 while the decoder fills (i+1)%3 and the
  // encoder drains (i-1)%3 (its previous user, frame i-2, was finished before frame i-1
  // was handed to the encoder).
  std::array<Slot, 3> slots;
  int64_t decoded = 0;  // frames taken from the reader (before --every)
  const double end_s = v.duration_s >= 0 ? v.start_s + v.duration_s : -1;
  // The next frame to process into `slot`: false at the end (or --duration reached).
  auto next = [&](Slot* slot) -> bool {
    for (;;) {
      if (!reader->Read(&slot->frame)) return false;
      const int64_t k = decoded++;
      if (end_s >= 0 && slot->frame.pts_s >= end_s - 1e-9) return false;
      if (k % v.every == 0) return true;
    }
  };
  int64_t written = 0;  // frames whose outputs are complete
  auto output = [&](Slot* slot) {
    if (lines)
      lines->Write(
          FrameLine(slot->frame.index, slot->frame.pts_s, slot->frame.image, slot->people));
    if (!draw_path.empty()) {
      if (!writer) open_writer(slot->frame.image.width, slot->frame.image.height);
      Draw(&slot->frame.image, slot->people, draw);
      writer->Write(slot->frame.image);
    }
  };

  int status = 0;
  std::string input_error;
  auto t_start = std::chrono::steady_clock::now();
  std::future<bool> decoding;  // the next frame
  std::future<void> encoding;  // the previous frame's outputs
  bool have = false;
  try {
    have = next(&slots[0]);
  } catch (const Error& e) {
    input_error = e.what();
  }
  progress.Update(0);
  for (int64_t i = 0; have; ++i) {
    Slot& cur = slots[i % 3];
    decoding = std::async(std::launch::async, next, &slots[(i + 1) % 3]);
    bool predicted = false;
    try {
      const auto t0 = std::chrono::steady_clock::now();
      cur.people = predict(cur.frame.image, po);
      stats->predict_seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (tracker) tracker->Update(&cur.people);
      predicted = true;
    } catch (const Error& e) {
      input_error = source + ": frame " + std::to_string(cur.frame.index) + ": " + e.what();
    }
    // The previous frame's outputs must be complete before this one's start (frame order).
    try {
      if (encoding.valid()) {
        encoding.get();
        ++written;
        progress.Update(static_cast<int>(written));
      }
      if (predicted) {
        stats->images += 1;
        stats->people += static_cast<int>(cur.people.size());
        encoding = std::async(std::launch::async, output, &cur);
      }
    } catch (const Error& e) {
      progress.Message(std::string("rtmo: error: ") + e.what());
      stats->output_errors += 1;
      predicted = false;
    }
    try {
      have = decoding.get();
    } catch (const Error& e) {
      input_error = e.what();
      have = false;
    }
    if (!predicted || g_stop) have = false;
  }
  if (encoding.valid()) {
    try {
      encoding.get();
      ++written;
    } catch (const Error& e) {
      progress.Message(std::string("rtmo: error: ") + e.what());
      stats->output_errors += 1;
    }
  }
  progress.Update(static_cast<int>(written));
  progress.Finish();
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  if (!input_error.empty()) {
    report(input_error + " (the " + std::to_string(written) +
           (written == 1 ? " frame" : " frames") + " before it " + (written == 1 ? "is" : "are") +
           " kept)");
    stats->failed = 1;
  } else if (info.frame_count > 0 && v.every == 1 && v.start_s == 0 && v.duration_s < 0 &&
             !g_stop && decoded < info.frame_count) {
    // The container promised more frames than the data held: a truncated file.
    report(source + ": the video ended after " + std::to_string(decoded) + " of the " +
           std::to_string(info.frame_count) + " frames its header lists (truncated?)");
    stats->failed = 1;
  }
  try {
    if (writer) {
      writer->Close();
      g_video_temp[0] = 0;
    }
  } catch (const Error& e) {
    report(e.what());
    stats->output_errors += 1;
  }
  try {
    if (lines) lines->Finish();
  } catch (const Error& e) {
    report(e.what());
    stats->output_errors += 1;
  }
  if (g_stop)
    std::fprintf(err, "rtmo: interrupted: outputs hold the %lld frames done\n",
                 static_cast<long long>(written));
  if (!o.quiet) {
    const double net = stats->images ? stats->predict_seconds / stats->images : 0.0;
    std::fprintf(err,
                 "rtmo: %s: %d frame%s, %d %s, %.2f frames/s (network %.1f ms/frame, %.0f%% of "
                 "the time)\n",
                 source.c_str(), stats->images, stats->images == 1 ? "" : "s", stats->people,
                 stats->people == 1 ? "person" : "people", wall > 0 ? stats->images / wall : 0.0,
                 1e3 * net, wall > 0 ? 100.0 * stats->predict_seconds / wall : 0.0);
  }
  (void)model_label;
  if (stats->failed || stats->output_errors) status = 1;
  if (g_stop && status == 0) status = 128 + SIGINT;  // as a shell reports an interrupted job
  return status;
}

#endif  // RTMO_HAVE_VIDEO

}  // namespace rtmo::cli
