#include "rtmo/cli/progress.h"

#include <algorithm>
#include <cmath>

namespace rtmo::cli {
namespace {

std::string Clock(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--";
  const long s = std::lround(seconds);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof(buf), "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  } else {
    std::snprintf(buf, sizeof(buf), "%ld:%02ld", s / 60, s % 60);
  }
  return buf;
}

}  // namespace

Progress::Progress(int total, bool enabled, std::FILE* out)
    : total_(total), enabled_(enabled), out_(out) {
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

std::string Progress::Render(int done, int total, double seconds, int width) {
  const double frac = total > 0 ? std::clamp(static_cast<double>(done) / total, 0.0, 1.0) : 1.0;
  const int fill = static_cast<int>(frac * width);
  std::string bar = "[" + std::string(fill, '#') + std::string(width - fill, '.') + "]";
  const double rate = seconds > 0 ? done / seconds : 0.0;
  const double eta = rate > 0 ? (total - done) / rate : NAN;
  char buf[128];
  std::snprintf(buf, sizeof(buf), " %d/%d  %.1f img/s  ETA %s", done, total, rate,
                Clock(eta).c_str());
  return bar + buf;
}

void Progress::Clear() {
  if (drawn_) {
    std::fputs("\r\033[K", out_);  // carriage return + erase line
    drawn_ = false;
  }
}

void Progress::Draw() {
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::fprintf(out_, "\r\033[K%s", Render(done_, total_, secs).c_str());
  std::fflush(out_);
  drawn_ = true;
  last_draw_ = std::chrono::steady_clock::now();
}

void Progress::Update(int done) {
  done_ = done;
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (done_ >= total_ || !drawn_ || now - last_draw_ >= std::chrono::milliseconds(100)) Draw();
}

void Progress::Message(const std::string& line) {
  Clear();
  std::fprintf(out_, "%s\n", line.c_str());
  std::fflush(out_);
  if (enabled_ && done_ > 0) Draw();
}

void Progress::Finish() {
  if (!enabled_) return;
  Clear();
  std::fflush(out_);
}

}  // namespace rtmo::cli
