#include "rtmo/io/dump.h"

#include <bit>
#include <filesystem>
#include <fstream>
#include <string>

#include "rtmo/error.h"

namespace rtmo {

static_assert(std::endian::native == std::endian::little, "NPY writer assumes little-endian");

void WriteNpy(const std::string& path, const void* data, const char* dtype_descr, size_t elem_size,
              const std::vector<int64_t>& shape) {
  // Python tuple syntax: "(1, 2)", "(3,)", "()".
  std::string dims;
  size_t n = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    dims += (i ? ", " : "") + std::to_string(shape[i]);
    n *= static_cast<size_t>(shape[i]);
  }
  if (shape.size() == 1) dims += ",";
  std::string header = std::string("{'descr': '") + dtype_descr +
                       "', 'fortran_order': False, 'shape': (" + dims + "), }";
  // NPY 1.0: magic (6) + version (2) + header length (2) + header, padded with spaces and
  // terminated by '\n' so that the data starts at a multiple of 64 bytes.
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  std::ofstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open for writing");
  const uint16_t hlen = static_cast<uint16_t>(header.size());
  f.write("\x93NUMPY\x01\x00", 8);
  f.write(reinterpret_cast<const char*>(&hlen), 2);
  f.write(header.data(), static_cast<std::streamsize>(header.size()));
  if (n) f.write(static_cast<const char*>(data), static_cast<std::streamsize>(n * elem_size));
  if (!f) throw Error(path + ": write failed");
}

NpyDumper::NpyDumper(std::string dir) : dir_(std::move(dir)) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) throw Error(dir_ + ": cannot create dump directory: " + ec.message());
}

void NpyDumper::OnTensor(const TensorView& t) {
  const std::string path = dir_ + "/" + std::string(t.name) + ".npy";
  switch (t.type) {
    case ElemType::kF32:
      WriteNpy(path, t.data, "<f4", 4, t.shape);
      break;
    case ElemType::kF64:
      WriteNpy(path, t.data, "<f8", 8, t.shape);
      break;
    case ElemType::kI64:
      WriteNpy(path, t.data, "<i8", 8, t.shape);
      break;
  }
}

Dumper::Dumper(std::string dir) : dir_(std::move(dir)) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) throw Error(dir_ + ": cannot create dump directory: " + ec.message());
}

void Dumper::Map(const std::string& name, const kernels::MapView& m) const {
  Floats(name, m.data, {1, m.c, m.h, m.w});
}

void Dumper::Floats(const std::string& name, const float* data,
                    const std::vector<int64_t>& shape) const {
  WriteNpy(dir_ + "/" + name + ".npy", data, "<f4", 4, shape);
}

void Dumper::Int64(const std::string& name, const int64_t* data,
                   const std::vector<int64_t>& shape) const {
  WriteNpy(dir_ + "/" + name + ".npy", data, "<i8", 8, shape);
}

void Dumper::Text(const std::string& file_name, const std::string& text) const {
  const std::string path = dir_ + "/" + file_name;
  std::ofstream f(path, std::ios::binary);
  f << text;
  if (!f) throw Error(path + ": write failed");
}

}  // namespace rtmo
