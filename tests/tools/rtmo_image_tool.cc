// Test driver for the image/pre-processing code, used by the Python tests that compare it
// with OpenCV (tests/tools/test_letterbox_vs_opencv.py, test_image_vs_opencv.py).
//
//   rtmo_image_tool batch COMMANDS.txt     one command per line (saves process start-ups)
//   commands:
//     decode IN OUT.npy                    LoadImage(IN)            -> uint8 [h, w, 3]
//     letterbox IN W H OUT.npy             LetterboxBgr             -> uint8 [H, W, 3]
//     chw IN W H OUT.npy                   Preprocess(...).chw      -> float32 [3, H, W]
//     warp IN m0 m1 m2 m3 m4 m5 W H BORDER OUT.npy  WarpAffineBilinear -> uint8 [H, W, 3]
//     map IN_W IN_H W H X Y OUT.txt        MapToImage, written as "x y" (%.17g)
//     encode IN OUT.png|OUT.jpg [QUALITY]  WritePng / WriteJpeg of the decoded IN
//   IN is an image file, or a uint8 [h, w, 3] .npy (raw pixels, no decoder involved).
// Errors go to stderr with exit status 1 (the message of rtmo::Error).
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "rtmo/error.h"
#include "rtmo/io/image.h"
#include "rtmo/io/preprocess.h"

namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void WriteNpy(const std::string& path, const char* descr, const std::vector<int>& shape,
              const void* data, size_t bytes) {
  std::string dims;
  for (int d : shape) dims += std::to_string(d) + ", ";
  if (shape.size() > 1) dims.resize(dims.size() - 2);
  std::string header =
      std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::ofstream f(path, std::ios::binary);
  const uint16_t len = static_cast<uint16_t>(header.size());
  f.write("\x93NUMPY\x01\x00", 8);
  f.put(static_cast<char>(len & 0xff));
  f.put(static_cast<char>(len >> 8));
  f << header;
  f.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
  if (!f) throw rtmo::Error("cannot write '" + path + "'");
}

// A C-order uint8 [h, w, 3] .npy, format version 1.0 (what numpy.save writes).
rtmo::Image ReadNpyImage(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (all.size() < 10 || all.compare(0, 6, "\x93NUMPY") != 0 || all[6] != 1) {
    throw rtmo::Error("'" + path + "': not a version-1 .npy file");
  }
  const size_t hlen = static_cast<uint8_t>(all[8]) | (static_cast<uint8_t>(all[9]) << 8);
  const std::string header = all.substr(10, hlen);
  if (header.find("'|u1'") == std::string::npos ||
      header.find("'fortran_order': False") == std::string::npos) {
    throw rtmo::Error("'" + path + "': expected a C-order uint8 array, header " + header);
  }
  const size_t open = header.find("'shape': (");
  int h = 0, w = 0, c = 0;
  if (open == std::string::npos ||
      std::sscanf(header.c_str() + open, "'shape': (%d, %d, %d)", &h, &w, &c) != 3 || c != 3) {
    throw rtmo::Error("'" + path + "': expected shape (h, w, 3), header " + header);
  }
  rtmo::Image img;
  img.width = w;
  img.height = h;
  img.bgr.assign(all.begin() + 10 + hlen, all.end());
  if (img.bgr.size() != static_cast<size_t>(w) * h * 3) {
    throw rtmo::Error("'" + path + "': data size does not match the shape");
  }
  return img;
}

rtmo::Image Input(const std::string& path) {
  return EndsWith(path, ".npy") ? ReadNpyImage(path) : rtmo::LoadImage(path);
}

void Run(const std::vector<std::string>& a) {
  if (a.empty()) return;
  const std::string& cmd = a[0];
  auto need = [&](size_t n) {
    if (a.size() != n)
      throw rtmo::Error("'" + cmd + "' takes " + std::to_string(n - 1) + " arguments");
  };
  if (cmd == "decode") {
    need(3);
    const rtmo::Image img = rtmo::LoadImage(a[1]);
    WriteNpy(a[2], "|u1", {img.height, img.width, 3}, img.bgr.data(), img.bgr.size());
  } else if (cmd == "letterbox") {
    need(5);
    const rtmo::Image img = Input(a[1]);
    const rtmo::Letterbox lb =
        rtmo::MakeLetterbox(img.width, img.height, std::stoi(a[2]), std::stoi(a[3]));
    std::vector<uint8_t> out(static_cast<size_t>(lb.input_w) * lb.input_h * 3);
    rtmo::LetterboxBgr(img, lb, out.data());
    WriteNpy(a[4], "|u1", {lb.input_h, lb.input_w, 3}, out.data(), out.size());
  } else if (cmd == "chw") {
    need(5);
    const rtmo::Image img = Input(a[1]);
    const rtmo::LetterboxedInput in = rtmo::Preprocess(img, std::stoi(a[2]), std::stoi(a[3]));
    WriteNpy(a[4], "<f4", {3, in.letterbox.input_h, in.letterbox.input_w}, in.chw.data(),
             in.chw.size() * sizeof(float));
  } else if (cmd == "warp") {
    need(12);
    const rtmo::Image img = Input(a[1]);
    std::array<double, 6> m;
    for (int i = 0; i < 6; ++i) m[i] = std::stod(a[2 + i]);
    const int w = std::stoi(a[8]), h = std::stoi(a[9]);
    std::vector<uint8_t> out(static_cast<size_t>(w) * h * 3);
    rtmo::WarpAffineBilinear(img.bgr.data(), img.width, img.height, m, w, h,
                             static_cast<uint8_t>(std::stoi(a[10])), out.data());
    WriteNpy(a[11], "|u1", {h, w, 3}, out.data(), out.size());
  } else if (cmd == "encode") {
    if (a.size() != 3 && a.size() != 4) throw rtmo::Error("'encode' takes 2 or 3 arguments");
    const rtmo::Image img = Input(a[1]);
    if (EndsWith(a[2], ".png")) {
      rtmo::WritePng(a[2], img);
    } else {
      rtmo::WriteJpeg(a[2], img, a.size() == 4 ? std::stoi(a[3]) : 95);
    }
  } else if (cmd == "map") {
    need(8);
    const rtmo::Letterbox lb =
        rtmo::MakeLetterbox(std::stoi(a[1]), std::stoi(a[2]), std::stoi(a[3]), std::stoi(a[4]));
    const auto p = rtmo::MapToImage(lb, std::stod(a[5]), std::stod(a[6]));
    std::FILE* f = std::fopen(a[7].c_str(), "w");
    if (f == nullptr) throw rtmo::Error("cannot write '" + a[7] + "'");
    std::fprintf(f, "%.17g %.17g\n", p[0], p[1]);
    std::fclose(f);
  } else {
    throw rtmo::Error("unknown command '" + cmd + "'");
  }
}

std::vector<std::string> Split(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (!args.empty() && args[0] == "batch") {
      if (args.size() != 2) throw rtmo::Error("usage: rtmo_image_tool batch COMMANDS.txt");
      std::ifstream f(args[1]);
      if (!f) throw rtmo::Error("cannot read '" + args[1] + "'");
      for (std::string line; std::getline(f, line);) Run(Split(line));
    } else {
      Run(args);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rtmo_image_tool: %s\n", e.what());
    return 1;
  }
  return 0;
}
