// File-system helpers of the `rtmo` command: input discovery and atomic output.
#ifndef RTMO_CLI_FILES_H_
#define RTMO_CLI_FILES_H_

#include <string>
#include <string_view>
#include <vector>

namespace rtmo::cli {

// True if `path` ends in .jpg .jpeg .png .bmp (any case): the formats LoadImage decodes.
bool HasImageExtension(std::string_view path);

// One input image as discovered.
struct InputFile {
  std::string path;  // as it will be opened and reported
};

// INPUT arguments -> image files. A file argument is taken as is (whatever its extension:
// the user named it, so a non-image is reported by the decoder, not silently skipped); a
// directory is walked recursively, keeping only image extensions, sorted by path (byte
// order) so runs are reproducible. Directories are listed in argument order.
// Missing paths and unreadable directories are appended to `errors` (one message each,
// naming the path) and skipped.
std::vector<InputFile> CollectInputs(const std::vector<std::string>& args,
                                     std::vector<std::string>* errors);

// Writes `bytes` to `path` atomically: a temp file in the same directory, fsync, rename.
// Either the complete new file is at `path` or the previous state is unchanged; the temp
// file is removed on failure (and on SIGINT/SIGTERM, see InstallSignalCleanup).
// Throws rtmo::Error naming the path.
void WriteFileAtomic(const std::string& path, std::string_view bytes);

// Removes the temp file of an in-progress WriteFileAtomic when the process gets SIGINT or
// SIGTERM, then dies of the signal as usual.
void InstallSignalCleanup();

// Creates `dir` (and parents) if missing. Throws rtmo::Error naming it.
void MakeDirs(const std::string& dir);

// Output base names for the inputs (stem of the file name). Stems that repeat (a/x.jpg,
// b/x.png) get "_2", "_3", ... in input order, so no output overwrites another.
std::vector<std::string> UniqueStems(const std::vector<InputFile>& inputs);

// Reads a whole file. Throws rtmo::Error naming it.
std::string ReadFile(const std::string& path);

}  // namespace rtmo::cli

#endif  // RTMO_CLI_FILES_H_
