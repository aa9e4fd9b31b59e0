#include "rtmo/io/model_files.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <system_error>
#include <vector>

extern char** environ;

namespace rtmo::models {
namespace fs = std::filesystem;
namespace {

// The one table of official checkpoints (mmpose v1.3.2 configs/body_2d_keypoint/rtmo/
// {body7,coco,crowdpose}/rtmo_*.yml). The crowdpose m file really is named "rrtmo-..." on
// the server. tools/get_weights.sh maps VARIANT [DATASET] onto these names.
constexpr OfficialModel kOfficial[] = {
    {"rtmo-t", "t", "body7", "rtmo-t_8xb32-600e_body7-416x416-f48f75cb_20231219.pth"},
    {"rtmo-s", "s", "body7", "rtmo-s_8xb32-600e_body7-640x640-dac2bf74_20231211.pth"},
    {"rtmo-m", "m", "body7", "rtmo-m_16xb16-600e_body7-640x640-39e78cc4_20231211.pth"},
    {"rtmo-l", "l", "body7", "rtmo-l_16xb16-600e_body7-640x640-b37118ce_20231211.pth"},
    {"rtmo-s-coco", "s", "coco", "rtmo-s_8xb32-600e_coco-640x640-8db55a59_20231211.pth"},
    {"rtmo-m-coco", "m", "coco", "rtmo-m_16xb16-600e_coco-640x640-6f4e0306_20231211.pth"},
    {"rtmo-l-coco", "l", "coco", "rtmo-l_16xb16-600e_coco-640x640-516a421f_20231211.pth"},
    {"rtmo-s-crowdpose", "s", "crowdpose",
     "rtmo-s_8xb32-700e_crowdpose-640x640-79f81c0d_20231211.pth"},
    {"rtmo-m-crowdpose", "m", "crowdpose",
     "rrtmo-m_16xb16-700e_crowdpose-640x640-0eaf670d_20231211.pth"},
    {"rtmo-l-crowdpose", "l", "crowdpose",
     "rtmo-l_16xb16-700e_crowdpose-640x640-1008211f_20231211.pth"},
    {"rtmo-l-body7-crowdpose", "l", "body7-crowdpose",
     "rtmo-l_16xb16-700e_body7-crowdpose-640x640-5bafdc11_20231219.pth"},
};

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::string(v) : std::string();
}

std::string NameList() {
  std::string s;
  for (const OfficialModel& m : kOfficial) s += (s.empty() ? "" : ", ") + std::string(m.name);
  return s;
}

// A name no other process or earlier call of this one uses, next to `target` (same
// directory, so the final rename is atomic).
fs::path TempNameFor(const fs::path& target) {
  static std::atomic<unsigned> counter{0};
  return fs::path(target.native() + ".part." + std::to_string(::getpid()) + "." +
                  std::to_string(counter++));
}

// Runs argv (looked up in PATH) with inherited stdio and waits. Returns the exit status,
// -1 when the program cannot be started (errno in *spawn_errno).
int Run(const std::vector<std::string>& argv, int* spawn_errno) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ);
  if (rc != 0) {
    *spawn_errno = rc;
    return -1;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      *spawn_errno = errno;
      return -1;
    }
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

void RemoveQuietly(const fs::path& p) {
  std::error_code ec;
  fs::remove(p, ec);
}

// Removes the temporaries TempNameFor(target) left by processes that no longer exist (a
// fetch or conversion interrupted by Ctrl-C or a crash): "<target>.part.<pid>.<n>" and the
// converter's "<...>.tmp" beside it. A live process's temporaries are left alone.
void RemoveStaleTemporaries(const fs::path& target) {
  std::error_code ec;
  const std::string prefix = target.filename().string() + ".part.";
  for (const fs::directory_entry& e : fs::directory_iterator(target.parent_path(), ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    const long pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
    if (pid <= 0 || pid == ::getpid()) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // alive
    RemoveQuietly(e.path());
  }
}

// Puts the complete file `tmp` at `target` without ever replacing an existing target (a
// concurrent fetch may have put an equal file there first; it is kept and tmp dropped).
void PublishNoReplace(const fs::path& tmp, const fs::path& target) {
  std::error_code ec;
  fs::create_hard_link(tmp, target, ec);
  if (ec && ec != std::errc::file_exists) {
    // No hard links on this file system: rename only when the target is still absent.
    if (!fs::exists(target)) fs::rename(tmp, target, ec);
    if (ec) {
      RemoveQuietly(tmp);
      throw Error("cannot create '" + target.string() + "': " + ec.message());
    }
    return;
  }
  RemoveQuietly(tmp);
}

// Downloads url into `part` with curl, else wget. Returns "" on success, else what failed.
std::string Download(const std::string& url, const fs::path& part) {
  const bool tty = ::isatty(2) == 1;
  int err = 0;
  int rc = Run({"curl", "-fL", "--retry", "2", "--connect-timeout", "15",
                tty ? "--progress-bar" : "-sS", "-o", part.string(), url},
               &err);
  if (rc == -1 && err == ENOENT) {
    rc = Run({"wget", tty ? "--show-progress" : "-nv", "-q", "--tries=3", "--timeout=15", "-O",
              part.string(), url},
             &err);
    if (rc == -1 && err == ENOENT) return "neither curl nor wget is installed";
    if (rc != 0) return "wget exit status " + std::to_string(rc);
    return "";
  }
  if (rc == -1) return std::string("cannot run curl: ") + std::strerror(err);
  if (rc != 0) return "curl exit status " + std::to_string(rc);
  return "";
}

// tools/convert_checkpoint.py: RTMO_CONVERTER, next to the running program
// (<prefix>/bin/../share/rtmo/, a relocated install), the configured install path, the
// source tree.
fs::path FindConverter() {
  if (std::string env = Env("RTMO_CONVERTER"); !env.empty()) {
    if (!fs::is_regular_file(env)) {
      throw Error("RTMO_CONVERTER='" + env + "': no such file (expected convert_checkpoint.py)");
    }
    return env;
  }
  std::vector<fs::path> tried;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) tried.push_back(exe.parent_path() / ".." / "share" / "rtmo" / "convert_checkpoint.py");
#ifdef RTMO_INSTALL_CONVERTER
  tried.push_back(RTMO_INSTALL_CONVERTER);
#endif
#ifdef RTMO_SOURCE_CONVERTER
  tried.push_back(RTMO_SOURCE_CONVERTER);
#endif
  std::string list;
  for (const fs::path& p : tried) {
    if (fs::is_regular_file(p, ec)) return p.lexically_normal();
    list += " " + p.lexically_normal().string();
  }
  throw Error("cannot find tools/convert_checkpoint.py (looked at" + list +
              "); set RTMO_CONVERTER to its path");
}

}  // namespace

std::span<const OfficialModel> OfficialModels() { return kOfficial; }

const OfficialModel* FindOfficial(std::string_view name) {
  for (const OfficialModel& m : kOfficial) {
    if (name == m.name) return &m;
  }
  return nullptr;
}

fs::path ModelHome() {
  if (std::string v = Env("RTMO_HOME"); !v.empty()) return v;
  if (std::string v = Env("XDG_CACHE_HOME"); !v.empty()) return fs::path(v) / "rtmo";
  if (std::string v = Env("HOME"); !v.empty()) return fs::path(v) / ".cache" / "rtmo";
  throw Error("no model cache directory: set RTMO_HOME (or HOME)");
}

std::string Sha256PrefixFromName(std::string_view file) {
  static const std::regex re("-([0-9a-f]{8})(_[0-9]{8})?\\.pth$");
  std::match_results<std::string_view::const_iterator> m;
  if (!std::regex_search(file.begin(), file.end(), m, re)) return "";
  return m[1].str();
}

void ConvertCheckpoint(const fs::path& pth, const fs::path& rtmo, const std::string& dataset,
                       bool replace, const Log& log) {
  const fs::path converter = FindConverter();
  std::string python = Env("RTMO_PYTHON");
  if (python.empty()) python = "python3";
  RemoveStaleTemporaries(rtmo);
  const fs::path tmp = TempNameFor(rtmo);
  std::vector<std::string> argv = {python, converter.string(), pth.string(), tmp.string(),
                                   "--quiet"};
  if (!dataset.empty()) argv.insert(argv.end(), {"--dataset", dataset});
  if (log) log("converting " + pth.string() + " -> " + rtmo.string());
  int err = 0;
  const int rc = Run(argv, &err);
  if (rc != 0) {
    RemoveQuietly(tmp);
    RemoveQuietly(tmp.native() + ".tmp");  // the converter's own temporary
    if (rc == -1) {
      throw FetchError("cannot run '" + python + "' for " + converter.string() + ": " +
                           std::strerror(err) + " (set RTMO_PYTHON to a python3)",
                       1);
    }
    throw FetchError("converting '" + pth.string() + "' with " + converter.string() +
                         " failed (exit status " + std::to_string(rc) +
                         "; its message is above); nothing was written to " + rtmo.string(),
                     1);
  }
  if (!replace) {
    PublishNoReplace(tmp, rtmo);
    return;
  }
  std::error_code ec;
  fs::rename(tmp, rtmo, ec);  // the caller owns the target (a stale cache entry)
  if (ec) {
    RemoveQuietly(tmp);
    throw Error("cannot create '" + rtmo.string() + "': " + ec.message());
  }
}

std::string FetchOfficial(const OfficialModel& model, const Log& log) {
  const fs::path home = ModelHome();
  const fs::path out = home / (std::string(model.name) + ".rtmo");
  std::error_code ec;
  if (fs::is_regular_file(out, ec)) return out.string();

  std::string file = Env("RTMO_WEIGHTS_FILE");
  if (file.empty()) file = model.file;
  const std::string want = Sha256PrefixFromName(file);
  if (want.empty()) {
    throw FetchError("'" + file + "' has no -HHHHHHHH sha256 prefix in its name; cannot verify it",
                     2);
  }
  std::string base = Env("RTMO_WEIGHTS_BASE_URL");
  if (base.empty()) base = kDefaultBaseUrl;
  while (!base.empty() && base.back() == '/') base.pop_back();
  const std::string url = base + "/" + file;
  const fs::path pth = home / file;
  // What to do by hand when the download cannot happen.
  const std::string by_hand = " To install " + std::string(model.name) + " by hand: download " +
                              url + " to " + pth.string() + " (or put a converted model at " +
                              out.string() + "), then run again.";

  fs::create_directories(home, ec);
  if (ec) throw Error("cannot create the model cache '" + home.string() + "': " + ec.message());

  if (fs::exists(pth, ec)) {
    const std::string got = Sha256File(pth).substr(0, 8);
    if (got != want) {
      throw FetchError("'" + pth.string() + "' exists but its sha256 starts with " + got +
                           ", its name says " + want +
                           "; not replacing it: remove it and run again",
                       3);
    }
    if (log) log(pth.string() + " already present (sha256 " + want + "...)");
  } else {
    if (Env("RTMO_OFFLINE") == "1") {
      throw FetchError("model " + std::string(model.name) + " is not in the cache " +
                           home.string() + " and RTMO_OFFLINE=1 forbids downloading." + by_hand,
                       1);
    }
    RemoveStaleTemporaries(pth);
    const fs::path part = TempNameFor(pth);
    if (log) log("downloading " + url);
    const std::string failure = Download(url, part);
    if (!failure.empty()) {
      RemoveQuietly(part);
      throw FetchError("download failed: " + url + " (" + failure + ")." + by_hand, 1);
    }
    const std::string got = Sha256File(part).substr(0, 8);
    if (got != want) {
      RemoveQuietly(part);
      throw FetchError("checksum mismatch for " + url + ": sha256 starts with " + got +
                           ", the file name says " + want + "; deleted the download",
                       3);
    }
    PublishNoReplace(part, pth);
    if (log) log(pth.string() + " (sha256 " + want + "... ok)");
  }
  // A concurrent fetch may have converted meanwhile: then its (complete) file is kept.
  ConvertCheckpoint(pth, out, model.dataset, /*replace=*/false, log);
  if (log) log("wrote " + out.string());
  return out.string();
}

std::string ResolveModel(const std::string& spec, const Log& log) {
  if (spec.empty()) throw Error("model: empty name (expected a .rtmo/.pth path or a name)");
  const fs::path p(spec);
  std::error_code ec;
  const bool is_file = fs::is_regular_file(p, ec);
  if (p.extension() == ".pth") {
    if (!is_file) throw Error("checkpoint '" + spec + "' not found");
    const fs::path home = ModelHome();
    // One cache entry per checkpoint path: two "model.pth" in different folders must not share
    // one .rtmo, so the name carries the sha256 prefix of the absolute path.
    const std::string where = fs::absolute(p, ec).lexically_normal().string();
    const fs::path out = home / (p.stem().string() + "-" + Sha256Hex(where).substr(0, 8) + ".rtmo");
    // Reused while at least as new as the checkpoint (a replaced .pth is converted again).
    if (fs::is_regular_file(out, ec) && fs::last_write_time(out, ec) >= fs::last_write_time(p)) {
      return out.string();
    }
    fs::create_directories(home, ec);
    if (ec) throw Error("cannot create the model cache '" + home.string() + "': " + ec.message());
    ConvertCheckpoint(p, out, "", /*replace=*/true, log);
    return out.string();
  }
  if (!is_file) {
    if (const OfficialModel* m = FindOfficial(spec)) return FetchOfficial(*m, log);
    if (!fs::exists(p, ec)) {
      throw Error("model '" + spec + "' not found: expected a .rtmo or .pth file, or one of " +
                  NameList());
    }
  }
  return spec;
}

// ---- SHA-256 (FIPS 180-4, section 6.2) ---------------------------------------------------

namespace {
constexpr uint32_t kK[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
inline uint32_t Rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
}  // namespace

Sha256::Sha256()
    : h_{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
         0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19} {}

void Sha256::Block(const uint8_t* p) {
  uint32_t w[64];
  for (int t = 0; t < 16; ++t) {
    w[t] = uint32_t{p[4 * t]} << 24 | uint32_t{p[4 * t + 1]} << 16 | uint32_t{p[4 * t + 2]} << 8 |
           uint32_t{p[4 * t + 3]};
  }
  for (int t = 16; t < 64; ++t) {
    const uint32_t s0 = Rotr(w[t - 15], 7) ^ Rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
    const uint32_t s1 = Rotr(w[t - 2], 17) ^ Rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
    w[t] = w[t - 16] + s0 + w[t - 7] + s1;
  }
  uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4], f = h_[5], g = h_[6], h = h_[7];
  for (int t = 0; t < 64; ++t) {
    const uint32_t t1 =
        h + (Rotr(e, 6) ^ Rotr(e, 11) ^ Rotr(e, 25)) + ((e & f) ^ (~e & g)) + kK[t] + w[t];
    const uint32_t t2 = (Rotr(a, 2) ^ Rotr(a, 13) ^ Rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    h = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  h_[0] += a;
  h_[1] += b;
  h_[2] += c;
  h_[3] += d;
  h_[4] += e;
  h_[5] += f;
  h_[6] += g;
  h_[7] += h;
}

void Sha256::Update(const void* data, size_t size) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  total_ += size;
  if (buf_len_ > 0) {
    const size_t take = std::min(size, 64 - buf_len_);
    std::memcpy(buf_.data() + buf_len_, p, take);
    buf_len_ += take;
    p += take;
    size -= take;
    if (buf_len_ < 64) return;
    Block(buf_.data());
    buf_len_ = 0;
  }
  for (; size >= 64; p += 64, size -= 64) Block(p);
  std::memcpy(buf_.data(), p, size);
  buf_len_ = size;
}

std::array<uint8_t, 32> Sha256::Finish() {
  // Padding (5.1.1): 0x80, zeros to 56 mod 64, the message length in bits, big-endian.
  const uint64_t bits = total_ * 8;
  const uint8_t one = 0x80, zero = 0;
  Update(&one, 1);
  while (buf_len_ != 56) Update(&zero, 1);
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(bits >> (56 - 8 * i));
  Update(len, 8);
  std::array<uint8_t, 32> out;
  for (int i = 0; i < 8; ++i) {
    for (int j = 0; j < 4; ++j) out[4 * i + j] = static_cast<uint8_t>(h_[i] >> (24 - 8 * j));
  }
  return out;
}

std::string ToHex(std::span<const uint8_t> bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string s;
  for (uint8_t b : bytes) {
    s += kDigits[b >> 4];
    s += kDigits[b & 15];
  }
  return s;
}

std::string Sha256Hex(std::string_view bytes) {
  Sha256 h;
  h.Update(bytes.data(), bytes.size());
  return ToHex(h.Finish());
}

std::string Sha256File(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read '" + path.string() + "' to compute its sha256");
  Sha256 h;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    h.Update(buf.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) throw Error("read error in '" + path.string() + "' while computing its sha256");
  return ToHex(h.Finish());
}

}  // namespace rtmo::models
