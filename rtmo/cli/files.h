// File-system helpers of the `rtmo` command: input discovery and atomic output.
#ifndef RTMO_CLI_FILES_H_
#define RTMO_CLI_FILES_H_

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace rtmo::cli {

// path -> the extension of its last component (after the last '.'), lowercased; "" when it
// has none. The one definition of "extension" for images and videos (video_args.h).
std::string LowerExtension(std::string_view path);

// True if `path` ends in .jpg .jpeg .png .bmp (any case): the formats LoadImage decodes.
bool HasImageExtension(std::string_view path);

// One input image as discovered.
struct InputFile {
  std::string path;  // as it will be opened and reported
};

// INPUT arguments -> image files. A file argument is taken as is (whatever its extension:
// the user named it, so a non-image is reported by the decoder, not silently skipped),
// except a recognised video container, which is refused here with a message saying so; a
// directory is walked recursively, keeping only image extensions, sorted by path (byte
// order) so runs are reproducible. Directories are listed in argument order.
// `exclude`: directories never searched (the command's own --draw and --dump outputs, so a
// second run does not process its earlier drawings); compared after resolving symlinks.
// Missing paths, unreadable directories, video files and directories with no image are
// appended to `errors` (one message each, naming the path) and skipped.
std::vector<InputFile> CollectInputs(const std::vector<std::string>& args,
                                     std::vector<std::string>* errors,
                                     const std::vector<std::string>& exclude = {});

// "MP4/QuickTime", "Matroska/WebM", "AVI", "MPEG transport stream", "FLV" if the first bytes
// of `head` are those of a video container, else "".
std::string VideoContainerName(std::string_view head);

// What an existing file is, judged by its first bytes: rtmo's outputs are recognised so
// that a re-run may replace them, and nothing else is replaced without --overwrite.
enum class ExistingKind {
  kMissing,     // nothing there
  kDirectory,   // a directory (never an output)
  kEmpty,       // a 0-byte file (nothing to lose)
  kOurJson,     // an rtmo --json document: starts with {"model":
  kOurCoco,     // an rtmo --coco-results array: "[" then {"image_id" or "]"
  kOurDrawing,  // a PNG/JPEG carrying rtmo's drawing marker (MarkDrawing)
  kOther,       // anything else: a user's file
};
ExistingKind ClassifyExisting(const std::string& path);

// Adds rtmo's marker to an encoded drawing ("png" or "jpg" bytes from EncodeImage): a PNG
// tEXt chunk "Software" = "rtmo.cpp drawing" after IHDR, or a JPEG COM segment with the same
// text after SOI/APP0. Standard metadata: viewers ignore it; ClassifyExisting finds it.
std::vector<uint8_t> MarkDrawing(const std::vector<uint8_t>& encoded, const std::string& fmt);

// Identity of an existing file (device, inode): equal for two paths of the same file
// whatever symlinks, hard links or "./" spell them. {0, 0} if it does not exist.
struct FileId {
  unsigned long long dev = 0, ino = 0;
  bool operator<(const FileId& o) const { return dev != o.dev ? dev < o.dev : ino < o.ino; }
  bool operator==(const FileId& o) const { return dev == o.dev && ino == o.ino; }
};
FileId IdOf(const std::string& path);

// Writes `bytes` to `path` atomically: a temp file in the same directory, fsync, rename.
// Either the complete new file is at `path` or the previous state is unchanged; the temp
// file is removed on failure (and on a second SIGINT/SIGTERM, see InstallSignalHandlers).
// Throws rtmo::Error naming the path.
void WriteFileAtomic(const std::string& path, std::string_view bytes);

// SIGINT/SIGTERM handling. The first signal only records a request to stop (StopSignal):
// the command finishes the current image, completes its outputs with what was done and
// exits 128 + signal. A second signal removes the temp files of outputs in progress
// (WriteFileAtomic, OutputStream) and dies of the signal as usual.
void InstallSignalHandlers();
// The first stop request's signal number, 0 if none. SetStopSignal is for the tests.
int StopSignal();
void SetStopSignal(int sig);

// An output written progressively and published atomically: the bytes go to a temp file
// beside `path` (created by the constructor, which therefore proves the destination
// writable before any work), and Commit() fsyncs and renames it over `path`; until then
// `path` is untouched, and an abandoned stream (destructor without Commit, or a second
// signal) leaves no file. `path` "-" writes to `out` (standard output) directly. Errors
// throw rtmo::Error naming `path`.
class OutputStream {
 public:
  explicit OutputStream(const std::string& path, std::FILE* out = stdout);
  ~OutputStream();
  OutputStream(const OutputStream&) = delete;
  OutputStream& operator=(const OutputStream&) = delete;

  void Write(std::string_view bytes);
  void Commit();
  // Removes the temp file now (after a write error).
  void Abandon();
  const std::string& path() const { return path_; }

 private:
  std::string path_, temp_;
  std::FILE* out_ = nullptr;  // "-"
  int fd_ = -1;
  int slot_ = -1;  // in the signal handler's temp-file table
};

// Creates `dir` (and parents) if missing. Throws rtmo::Error naming it.
void MakeDirs(const std::string& dir);

// Output base names for the inputs (stem of the file name). Stems that repeat (a/x.jpg,
// b/x.png) get "_2", "_3", ... in input order, so no output overwrites another.
std::vector<std::string> UniqueStems(const std::vector<InputFile>& inputs);

// Reads a whole file. Throws rtmo::Error naming it.
std::string ReadFile(const std::string& path);

}  // namespace rtmo::cli

#endif  // RTMO_CLI_FILES_H_
