#include "rtmo/video/ffmpeg_util.h"

#include <cstdarg>
#include <cstdio>
#include <mutex>

extern "C" {
#include <libavutil/error.h>
#include <libavutil/log.h>
}

namespace rtmo::video_internal {
namespace {

// Decoder threads log too, so the line is process-wide (guarded), not per thread.
std::mutex g_mu;
std::string g_last_line;

extern "C" void QuietLog(void* avcl, int level, const char* fmt, va_list vl) {
  if (level > AV_LOG_ERROR) return;
  char line[1024];
  int print_prefix = 1;
  av_log_format_line2(avcl, level, fmt, vl, line, sizeof(line), &print_prefix);
  std::string s(line);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  if (s.empty()) return;
  std::lock_guard<std::mutex> lock(g_mu);
  g_last_line = s;
}

}  // namespace

std::string AvErrorText(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(err, buf, sizeof(buf));
  return buf;
}

void InstallQuietLog() {
  static std::once_flag once;
  std::call_once(once, [] { av_log_set_callback(QuietLog); });
}

std::string TakeLastLogLine() {
  std::lock_guard<std::mutex> lock(g_mu);
  std::string s;
  s.swap(g_last_line);
  return s;
}

}  // namespace rtmo::video_internal
