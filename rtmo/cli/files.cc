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

#include "rtmo/error.h"

namespace rtmo::cli {
namespace fs = std::filesystem;

bool HasImageExtension(std::string_view path) {
  const size_t slash = path.find_last_of('/');
  const size_t dot = path.find_last_of('.');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) {
    return false;
  }
  std::string ext(path.substr(dot + 1));
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == "jpg" || ext == "jpeg" || ext == "png" || ext == "bmp";
}

std::vector<InputFile> CollectInputs(const std::vector<std::string>& args,
                                     std::vector<std::string>* errors) {
  std::vector<InputFile> out;
  for (const std::string& arg : args) {
    std::error_code ec;
    const fs::file_status st = fs::status(arg, ec);
    if (ec || !fs::exists(st)) {
      errors->push_back(arg + ": no such file or directory");
      continue;
    }
    if (!fs::is_directory(st)) {
      out.push_back({arg});
      continue;
    }
    std::vector<std::string> found;
    fs::recursive_directory_iterator it(arg, fs::directory_options::skip_permission_denied, ec);
    if (ec) {
      errors->push_back(arg + ": cannot read directory: " + ec.message());
      continue;
    }
    for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) break;
      std::error_code ec2;
      if (it->is_regular_file(ec2) && HasImageExtension(it->path().native())) {
        found.push_back(it->path().native());
      }
    }
    if (ec) errors->push_back(arg + ": error while listing the directory: " + ec.message());
    std::sort(found.begin(), found.end());
    for (std::string& f : found) out.push_back({std::move(f)});
  }
  return out;
}

namespace {

// The temp file currently being written, for the signal handler (async-signal-safe: a
// fixed buffer and a flag, no allocation).
char g_temp_path[4096];
volatile std::sig_atomic_t g_temp_active = 0;

extern "C" void CleanupAndReraise(int sig) {
  if (g_temp_active) unlink(g_temp_path);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

}  // namespace

void InstallSignalCleanup() {
  std::signal(SIGINT, CleanupAndReraise);
  std::signal(SIGTERM, CleanupAndReraise);
}

void WriteFileAtomic(const std::string& path, std::string_view bytes) {
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::string tmpl = (dir / ("." + target.filename().native() + ".tmp.XXXXXX")).native();
  if (tmpl.size() >= sizeof(g_temp_path)) throw Error(path + ": output path too long");
  const int fd = mkstemp(tmpl.data());
  if (fd < 0) {
    throw Error(path + ": cannot create a temporary file in '" + dir.native() +
                "': " + std::strerror(errno));
  }
  std::memcpy(g_temp_path, tmpl.c_str(), tmpl.size() + 1);
  g_temp_active = 1;
  auto fail = [&](const std::string& what) {
    const int err = errno;
    close(fd);
    unlink(tmpl.c_str());
    g_temp_active = 0;
    throw Error(path + ": " + what + ": " + std::strerror(err));
  };
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write failed");
    }
    done += static_cast<size_t>(n);
  }
  // mkstemp creates 0600; give the file the usual permissions (0666 & ~umask).
  const mode_t mask = umask(0);
  umask(mask);
  if (fchmod(fd, 0666 & ~mask) != 0) fail("chmod failed");
  if (fsync(fd) != 0) fail("fsync failed");
  if (close(fd) != 0) {
    const int err = errno;
    unlink(tmpl.c_str());
    g_temp_active = 0;
    throw Error(path + ": close failed: " + std::strerror(err));
  }
  if (rename(tmpl.c_str(), path.c_str()) != 0) {
    const int err = errno;
    unlink(tmpl.c_str());
    g_temp_active = 0;
    throw Error(path + ": cannot rename the temporary file into place: " + std::strerror(err));
  }
  g_temp_active = 0;
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
