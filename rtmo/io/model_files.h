// Models by name: what `Model::Load(spec)`, `rtmo --model SPEC` and `rtmo fetch NAME` accept,
// and how a name becomes a .rtmo file (the model cache, the download, its check, the
// conversion).
//
//   spec                  -> the .rtmo file loaded
//   path/to/x.rtmo        -> itself
//   path/to/x.pth         -> $RTMO_HOME/x-P.rtmo (P: 8 hex of the sha256 of the absolute
//                            path), converted on first use (newer .pth: again)
//   rtmo-s, rtmo-m-coco.. -> $RTMO_HOME/<name>.rtmo; when missing, the official checkpoint is
//                            downloaded to $RTMO_HOME/<official file>.pth (curl or wget),
//                            its sha256 prefix (in the file name) checked, then converted
//
// RTMO_HOME defaults to $XDG_CACHE_HOME/rtmo, else ~/.cache/rtmo. The table of official
// checkpoints lives here only: tools/get_weights.sh calls `rtmo fetch`, and
// `rtmo fetch --list` prints the table.
//
// Environment (mirrors and tests): RTMO_HOME; RTMO_WEIGHTS_BASE_URL (replaces
// https://download.openmmlab.com/mmpose/v1/projects/rtmo); RTMO_WEIGHTS_FILE (replaces the
// official file name, must keep its -HHHHHHHH hash); RTMO_OFFLINE=1 (never download);
// RTMO_PYTHON (python3 for the converter, default `python3`: standard library only);
// RTMO_CONVERTER (tools/convert_checkpoint.py; default: next to the executable in
// ../share/rtmo/, the installed copy, then the source tree's).
//
// Files: every download and conversion goes to a per-process temporary name in the cache
// directory and is renamed into place when complete and checked, so concurrent fetches never
// expose a partial file; an existing file whose content is not the expected one is never
// replaced (the error says which file to remove).
#ifndef RTMO_IO_MODEL_FILES_H_
#define RTMO_IO_MODEL_FILES_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "rtmo/error.h"

namespace rtmo::models {

// One official mmpose v1.3.2 RTMO checkpoint (configs/body_2d_keypoint/rtmo/*/rtmo_*.yml).
struct OfficialModel {
  const char* name;     // "rtmo-s", "rtmo-m-coco", ...
  const char* variant;  // "t" | "s" | "m" | "l"
  const char* dataset;  // "body7" | "coco" | "crowdpose" | "body7-crowdpose"
  const char* file;     // the file name on the server: NAME-HHHHHHHH_YYYYMMDD.pth
};
std::span<const OfficialModel> OfficialModels();
// nullptr when `name` is not one of OfficialModels().
const OfficialModel* FindOfficial(std::string_view name);

inline constexpr const char* kDefaultBaseUrl =
    "https://download.openmmlab.com/mmpose/v1/projects/rtmo";

// The cache directory (not created).
std::filesystem::path ModelHome();

// A failed download/check/conversion, with the exit status `rtmo fetch` and
// tools/get_weights.sh report: 1 download or conversion failed, 2 bad name, 3 checksum.
class FetchError : public Error {
 public:
  FetchError(const std::string& what, int exit_status) : Error(what), exit_status_(exit_status) {}
  int exit_status() const { return exit_status_; }

 private:
  int exit_status_;
};

// Progress lines ("downloading URL", "... ok"); default: none.
using Log = std::function<void(const std::string&)>;

// spec (see the top of this file) -> the path of a .rtmo file that exists. Throws
// rtmo::Error (FetchError for a download) naming the spec, the file and what to do.
std::string ResolveModel(const std::string& spec, const Log& log = {});

// Makes sure $RTMO_HOME/<model.name>.rtmo exists (downloads and converts as needed).
// Returns its path.
std::string FetchOfficial(const OfficialModel& model, const Log& log = {});

// Converts `pth` into `rtmo` with tools/convert_checkpoint.py (a temporary name, then a
// rename). dataset may be empty (the converter's detection). replace=false keeps an
// existing `rtmo` (a concurrent conversion's) instead of replacing it.
void ConvertCheckpoint(const std::filesystem::path& pth, const std::filesystem::path& rtmo,
                       const std::string& dataset, bool replace, const Log& log = {});

// The expected sha256 prefix in an official file name (NAME-HHHHHHHH[_YYYYMMDD].pth); empty
// when the name has none.
std::string Sha256PrefixFromName(std::string_view file);

// SHA-256 (FIPS 180-4), incremental.
class Sha256 {
 public:
  Sha256();
  void Update(const void* data, size_t size);
  std::array<uint8_t, 32> Finish();  // once

 private:
  void Block(const uint8_t* p);
  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buf_{};
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};
std::string ToHex(std::span<const uint8_t> bytes);
std::string Sha256Hex(std::string_view bytes);
// The file's sha256, lower-case hex. Throws rtmo::Error naming the file.
std::string Sha256File(const std::filesystem::path& path);

}  // namespace rtmo::models

#endif  // RTMO_IO_MODEL_FILES_H_
