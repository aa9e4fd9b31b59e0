// --dump DIR: every module's output as .npy (NPY format 1.0, little-endian float32 or int64),
// one file per name, the same names and shapes as the PyTorch goldens
// (tools/reference/dump_goldens.py), so a run can be diffed against PyTorch file by file.
#ifndef RTMO_DUMP_H_
#define RTMO_DUMP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/tensor.h"
#include "rtmo/rtmo.h"

namespace rtmo {

// Writes `data` (row-major, `shape`) as an NPY v1.0 file. dtype_descr is "<f4" or "<i8".
// Throws rtmo::Error naming the path if it cannot be written.
void WriteNpy(const std::string& path, const void* data, const char* dtype_descr, size_t elem_size,
              const std::vector<int64_t>& shape);

// An Observer (rtmo/rtmo.h) that writes every tensor it receives as DIR/<name>.npy, with the
// tensor's own dtype ("<f4", "<f8" or "<i8"). Creates DIR (and parents) if needed.
class NpyDumper : public Observer {
 public:
  explicit NpyDumper(std::string dir);
  void OnTensor(const TensorView& t) override;

 private:
  std::string dir_;
};

class Dumper {
 public:
  // Creates `dir` (and parents) if needed.
  explicit Dumper(std::string dir);
  const std::string& dir() const { return dir_; }
  // A CHW map as [1, C, H, W].
  void Map(const std::string& name, const kernels::MapView& m) const;
  void Floats(const std::string& name, const float* data, const std::vector<int64_t>& shape) const;
  void Int64(const std::string& name, const int64_t* data, const std::vector<int64_t>& shape) const;
  void Text(const std::string& file_name, const std::string& text) const;

 private:
  std::string dir_;
};

}  // namespace rtmo

#endif  // RTMO_DUMP_H_
