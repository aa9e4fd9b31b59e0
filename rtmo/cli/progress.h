// A one-line progress bar on stderr: images done/total, rate, ETA.
#ifndef RTMO_CLI_PROGRESS_H_
#define RTMO_CLI_PROGRESS_H_

#include <chrono>
#include <cstdio>
#include <string>

namespace rtmo::cli {

class Progress {
 public:
  // enabled: draw the bar at all (the caller decides: more than one input, stderr a TTY,
  // not --quiet). Messages are printed either way.
  Progress(int total, bool enabled, std::FILE* out = stderr);

  // Called after each image; redraws at most every 100 ms (and at the end).
  void Update(int done);
  // Prints a full line (an error, a warning) without mangling the bar.
  void Message(const std::string& line);
  // Removes the bar.
  void Finish();

  // The bar text for `done` of `total` after `seconds` (exposed for the tests).
  static std::string Render(int done, int total, double seconds, int width = 30);

 private:
  void Clear();
  void Draw();

  int total_;
  bool enabled_;
  std::FILE* out_;
  int done_ = 0;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace rtmo::cli

#endif  // RTMO_CLI_PROGRESS_H_
