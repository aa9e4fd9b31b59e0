#include "rtmo/cli/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <system_error>
#include <utility>

#include "rtmo/error.h"

namespace rtmo::cli {
namespace fs = std::filesystem;

std::string LowerExtension(std::string_view path) {
  const size_t slash = path.find_last_of('/');
  const size_t dot = path.find_last_of('.');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) {
    return "";
  }
  std::string ext(path.substr(dot + 1));
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

bool HasImageExtension(std::string_view path) {
  const std::string ext = LowerExtension(path);
  return ext == "jpg" || ext == "jpeg" || ext == "png" || ext == "bmp";
}

namespace {

// Canonical form for comparing directories (symlinks and ".." resolved); the path as
// given if that fails.
std::string Canonical(const std::string& p) {
  std::error_code ec;
  fs::path c = fs::weakly_canonical(p, ec);
  return ec ? p : c.native();
}

std::string ReadHead(const std::string& path, size_t n) {
  std::ifstream f(path, std::ios::binary);
  std::string head(n, '\0');
  f.read(head.data(), static_cast<std::streamsize>(n));
  head.resize(f ? n : static_cast<size_t>(std::max<std::streamsize>(f.gcount(), 0)));
  return head;
}

}  // namespace

std::string VideoContainerName(std::string_view h) {
  if (h.size() >= 12 && h.substr(4, 4) == "ftyp") return "MP4/QuickTime";
  if (h.size() >= 4 && h.substr(0, 4) == "\x1A\x45\xDF\xA3") return "Matroska/WebM";
  if (h.size() >= 12 && h.substr(0, 4) == "RIFF" && h.substr(8, 4) == "AVI ") return "AVI";
  if (h.size() >= 3 && h.substr(0, 3) == "FLV") return "FLV";
  if (h.size() >= 189 && h[0] == 0x47 && h[188] == 0x47) return "MPEG transport stream";
  if (h.size() >= 4 && h.substr(0, 4) == std::string_view("\x00\x00\x01\xBA", 4)) {
    return "MPEG program stream";
  }
  return "";
}

std::vector<InputFile> CollectInputs(const std::vector<std::string>& args,
                                     std::vector<std::string>* errors,
                                     const std::vector<std::string>& exclude) {
  std::vector<std::string> excluded;
  for (const std::string& e : exclude) {
    if (!e.empty()) excluded.push_back(Canonical(e));
  }
  auto is_excluded = [&](const std::string& dir) {
    if (excluded.empty()) return false;
    return std::find(excluded.begin(), excluded.end(), Canonical(dir)) != excluded.end();
  };
  std::vector<InputFile> out;
  for (const std::string& arg : args) {
    std::error_code ec;
    const fs::file_status st = fs::status(arg, ec);
    if (ec || !fs::exists(st)) {
      errors->push_back(arg + ": no such file or directory");
      continue;
    }
    if (!fs::is_directory(st)) {
      const std::string video = VideoContainerName(ReadHead(arg, 200));
      if (!video.empty()) {
        errors->push_back(arg + ": a video file (" + video +
                          "); this command reads still images (JPEG, PNG, BMP): video input "
                          "is a separate feature");
        continue;
      }
      out.push_back({arg});
      continue;
    }
    if (is_excluded(arg)) {
      errors->push_back(arg +
                        ": is the --draw or --dump output directory; its files are "
                        "outputs, not inputs (not searched)");
      continue;
    }
    std::vector<std::string> found;
    fs::recursive_directory_iterator it(arg, fs::directory_options::skip_permission_denied, ec);
    if (ec) {
      errors->push_back(arg + ": cannot read directory: " + ec.message());
      continue;
    }
    bool skipped_output_dir = false;
    for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) break;
      std::error_code ec2;
      if (it->is_directory(ec2)) {
        if (is_excluded(it->path().native())) {
          it.disable_recursion_pending();  // our own outputs: never inputs
          skipped_output_dir = true;
        }
        continue;
      }
      if (it->is_regular_file(ec2) && HasImageExtension(it->path().native())) {
        found.push_back(it->path().native());
      }
    }
    if (ec) errors->push_back(arg + ": error while listing the directory: " + ec.message());
    if (found.empty() && !ec) {
      errors->push_back(arg +
                        ": no images in this directory (searched recursively for .jpg "
                        ".jpeg .png .bmp" +
                        std::string(skipped_output_dir ? ", skipping the --draw/--dump output "
                                                         "directory"
                                                       : "") +
                        ")");
    }
    std::sort(found.begin(), found.end());
    for (std::string& f : found) out.push_back({std::move(f)});
  }
  return out;
}

// --- existing files and rtmo's own outputs ------------------------------------------

namespace {

constexpr std::string_view kMarkerText = "rtmo.cpp drawing";
constexpr std::string_view kPngSig("\x89PNG\r\n\x1a\n", 8);
constexpr size_t kPngAfterIhdr = 8 + 4 + 4 + 13 + 4;  // signature + IHDR chunk

uint32_t PngCrc(const uint8_t* p, size_t n) {  // CRC-32 as PNG defines it, bitwise (tiny input)
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
  }
  return ~c;
}

void PutBe32(std::vector<uint8_t>* v, uint32_t x) {
  for (int s = 24; s >= 0; s -= 8) v->push_back(static_cast<uint8_t>(x >> s));
}

// Offset after SOI and an optional APP0 (JFIF must stay right after SOI); 0 if not a JPEG.
size_t JpegInsertAt(std::string_view b) {
  if (b.size() < 4 || static_cast<uint8_t>(b[0]) != 0xFF || static_cast<uint8_t>(b[1]) != 0xD8) {
    return 0;
  }
  size_t at = 2;
  if (b.size() >= at + 4 && static_cast<uint8_t>(b[at]) == 0xFF &&
      static_cast<uint8_t>(b[at + 1]) == 0xE0) {
    at += 2 + ((static_cast<uint8_t>(b[at + 2]) << 8) | static_cast<uint8_t>(b[at + 3]));
  }
  return at;
}

}  // namespace

std::vector<uint8_t> MarkDrawing(const std::vector<uint8_t>& enc, const std::string& fmt) {
  const std::string_view b(reinterpret_cast<const char*>(enc.data()), enc.size());
  std::vector<uint8_t> chunk;
  size_t at = 0;
  if (fmt == "png" && b.size() > kPngAfterIhdr && b.substr(0, 8) == kPngSig) {
    std::vector<uint8_t> body = {'t', 'E', 'X', 't'};
    const std::string_view key("Software\0", 9);
    body.insert(body.end(), key.begin(), key.end());
    body.insert(body.end(), kMarkerText.begin(), kMarkerText.end());
    PutBe32(&chunk, static_cast<uint32_t>(body.size() - 4));
    chunk.insert(chunk.end(), body.begin(), body.end());
    PutBe32(&chunk, PngCrc(body.data(), body.size()));
    at = kPngAfterIhdr;
  } else if (fmt == "jpg" && (at = JpegInsertAt(b)) != 0 && at <= b.size()) {
    chunk = {0xFF, 0xFE, 0, static_cast<uint8_t>(2 + kMarkerText.size())};
    chunk.insert(chunk.end(), kMarkerText.begin(), kMarkerText.end());
  } else {
    return enc;  // not what EncodeImage writes: leave it unmarked
  }
  std::vector<uint8_t> out(enc.begin(), enc.begin() + static_cast<std::ptrdiff_t>(at));
  out.insert(out.end(), chunk.begin(), chunk.end());
  out.insert(out.end(), enc.begin() + static_cast<std::ptrdiff_t>(at), enc.end());
  return out;
}

ExistingKind ClassifyExisting(const std::string& path) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) return ExistingKind::kMissing;
  if (fs::is_directory(st)) return ExistingKind::kDirectory;
  if (!fs::is_regular_file(st)) return ExistingKind::kOther;
  const std::string head = ReadHead(path, 128);
  if (head.empty())
    return fs::file_size(path, ec) == 0 ? ExistingKind::kEmpty : ExistingKind::kOther;
  if (head.rfind("{\"model\":", 0) == 0) return ExistingKind::kOurJson;
  if (head[0] == '[') {
    const size_t p = head.find_first_not_of(" \n\r\t", 1);
    if (p != std::string::npos && (head.compare(p, 11, "{\"image_id\"") == 0 || head[p] == ']')) {
      return ExistingKind::kOurCoco;
    }
  }
  std::string_view h(head);
  if (h.substr(0, 8) == kPngSig && h.size() >= kPngAfterIhdr + 8 + 9 + kMarkerText.size() &&
      h.substr(kPngAfterIhdr + 4, 4) == "tEXt" &&
      h.substr(kPngAfterIhdr + 8 + 9, kMarkerText.size()) == kMarkerText) {
    return ExistingKind::kOurDrawing;
  }
  if (const size_t at = JpegInsertAt(h); at != 0 && h.size() >= at + 4 + kMarkerText.size() &&
                                         static_cast<uint8_t>(h[at]) == 0xFF &&
                                         static_cast<uint8_t>(h[at + 1]) == 0xFE &&
                                         h.substr(at + 4, kMarkerText.size()) == kMarkerText) {
    return ExistingKind::kOurDrawing;
  }
  return ExistingKind::kOther;
}

FileId IdOf(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return {};
  return {static_cast<unsigned long long>(st.st_dev), static_cast<unsigned long long>(st.st_ino)};
}

// --- signals and temp files ----------------------------------------------------------

namespace {

// Temp files in progress, for the signal handler (async-signal-safe: fixed buffers and
// flags, no allocation). Slot 0: WriteFileAtomic; the others: OutputStreams.
constexpr int kTempSlots = 4;
char g_temp_path[kTempSlots][4096];
volatile std::sig_atomic_t g_temp_active[kTempSlots] = {};
volatile std::sig_atomic_t g_stop_signal = 0;

// (extern "C" names are global even in an anonymous namespace: this one must not clash
// with video_cmd.cc's handler.)
extern "C" void PredictCmdOnStopSignal(int sig) {
  if (g_stop_signal == 0) {
    g_stop_signal = sig;  // first request: stop between images (the main loop checks)
    return;
  }
  for (int i = 0; i < kTempSlots; ++i) {
    if (g_temp_active[i]) unlink(g_temp_path[i]);
  }
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

int ClaimSlot(const std::string& temp, int from) {
  for (int i = from; i < kTempSlots; ++i) {
    if (!g_temp_active[i]) {
      std::memcpy(g_temp_path[i], temp.c_str(), temp.size() + 1);
      g_temp_active[i] = 1;
      return i;
    }
  }
  return -1;  // no slot: the temp file is still removed on every non-signal path
}

// mkstemp beside `path`; returns the fd and sets *temp. Throws naming `path`.
int MakeTemp(const std::string& path, std::string* temp) {
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::string tmpl = (dir / ("." + target.filename().native() + ".tmp.XXXXXX")).native();
  if (tmpl.size() >= sizeof(g_temp_path[0])) throw Error(path + ": output path too long");
  const int fd = mkstemp(tmpl.data());
  if (fd < 0) {
    throw Error(path + ": cannot create a temporary file in '" + dir.native() +
                "': " + std::strerror(errno));
  }
  *temp = std::move(tmpl);
  return fd;
}

// write() all of `bytes`, retrying on EINTR (a first SIGINT interrupts slow writes).
bool WriteAll(int fd, std::string_view bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

// fchmod to 0666 & ~umask (mkstemp makes 0600), fsync, close, rename. Throws naming `path`.
void Publish(int fd, const std::string& temp, const std::string& path) {
  auto fail = [&](const std::string& what, bool close_fd) {
    const int err = errno;
    if (close_fd) close(fd);
    unlink(temp.c_str());
    throw Error(path + ": " + what + ": " + std::strerror(err));
  };
  const mode_t mask = umask(0);
  umask(mask);
  if (fchmod(fd, 0666 & ~mask) != 0) fail("chmod failed", true);
  if (fsync(fd) != 0) fail("fsync failed", true);
  if (close(fd) != 0) fail("close failed", false);
  if (rename(temp.c_str(), path.c_str()) != 0) {
    fail("cannot rename the temporary file into place", false);
  }
}

}  // namespace

void InstallSignalHandlers() {
  struct sigaction sa = {};
  sa.sa_handler = PredictCmdOnStopSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // a stop request must not fail the write in progress
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

int StopSignal() { return g_stop_signal; }
void SetStopSignal(int sig) { g_stop_signal = sig; }

void WriteFileAtomic(const std::string& path, std::string_view bytes) {
  std::string temp;
  const int fd = MakeTemp(path, &temp);
  const int slot = ClaimSlot(temp, 0);
  auto release = [&] {
    if (slot >= 0) g_temp_active[slot] = 0;
  };
  if (!WriteAll(fd, bytes)) {
    const int err = errno;
    close(fd);
    unlink(temp.c_str());
    release();
    throw Error(path + ": write failed: " + std::strerror(err));
  }
  try {
    Publish(fd, temp, path);
  } catch (...) {
    release();
    throw;
  }
  release();
}

OutputStream::OutputStream(const std::string& path, std::FILE* out) : path_(path) {
  if (path == "-") {
    out_ = out;
    return;
  }
  fd_ = MakeTemp(path, &temp_);
  slot_ = ClaimSlot(temp_, 1);
}

OutputStream::~OutputStream() { Abandon(); }

void OutputStream::Write(std::string_view bytes) {
  if (out_ != nullptr) {
    if (std::fwrite(bytes.data(), 1, bytes.size(), out_) != bytes.size()) {
      throw Error(path_ + " (standard output): write failed: " + std::strerror(errno));
    }
    return;
  }
  if (fd_ < 0) throw Error(path_ + ": write after the output was closed");
  if (!WriteAll(fd_, bytes)) {
    const int err = errno;
    Abandon();
    throw Error(path_ + ": write failed: " + std::strerror(err));
  }
}

void OutputStream::Commit() {
  if (out_ != nullptr) {
    if (std::fflush(out_) != 0) {
      throw Error(path_ + " (standard output): write failed: " + std::strerror(errno));
    }
    return;
  }
  if (fd_ < 0) throw Error(path_ + ": commit after the output was closed");
  const int fd = std::exchange(fd_, -1);
  try {
    Publish(fd, temp_, path_);
  } catch (...) {
    if (slot_ >= 0) g_temp_active[slot_] = 0;
    slot_ = -1;
    throw;
  }
  if (slot_ >= 0) g_temp_active[slot_] = 0;
  slot_ = -1;
}

void OutputStream::Abandon() {
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
    unlink(temp_.c_str());
  }
  if (slot_ >= 0) g_temp_active[slot_] = 0;
  slot_ = -1;
}

void MakeDirs(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) {
    throw Error(dir + ": cannot create directory" + (ec ? ": " + ec.message() : ""));
  }
}

std::vector<std::string> UniqueStems(const std::vector<InputFile>& inputs) {
  std::vector<std::string> stems;
  std::map<std::string, int> seen;
  for (const InputFile& in : inputs) {
    std::string stem = fs::path(in.path).stem().native();
    if (stem.empty()) stem = "image";
    int& n = seen[stem];
    ++n;
    std::string name = n == 1 ? stem : stem + "_" + std::to_string(n);
    // A generated name could itself collide with a later real stem ("x_2"): keep going.
    while (n > 1 && seen.count(name)) name = stem + "_" + std::to_string(++n);
    if (n > 1) seen[name] = 1;
    stems.push_back(std::move(name));
  }
  return stems;
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open: " + std::strerror(errno));
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) throw Error(path + ": read failed");
  return ss.str();
}

}  // namespace rtmo::cli
