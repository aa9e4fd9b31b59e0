#include "rtmo/io/draw.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>

#include "rtmo/error.h"
#include "rtmo/io/image.h"

// stb_easy_font: a header of static functions (no implementation macro), a tiny vector font.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include <stb/stb_easy_font.h>
#pragma GCC diagnostic pop

namespace rtmo {
namespace {

// Keypoint indices (COCO order).
enum : int {
  kNose,
  kLeftEye,
  kRightEye,
  kLeftEar,
  kRightEar,
  kLeftShoulder,
  kRightShoulder,
  kLeftElbow,
  kRightElbow,
  kLeftWrist,
  kRightWrist,
  kLeftHip,
  kRightHip,
  kLeftKnee,
  kRightKnee,
  kLeftAnkle,
  kRightAnkle
};
constexpr std::array<uint8_t, 3> kBlue = {51, 153, 255};
constexpr std::array<uint8_t, 3> kGreen = {0, 255, 0};
constexpr std::array<uint8_t, 3> kOrange = {255, 128, 0};

// Blends `rgb` into pixel (x, y) with coverage `a` in [0, 1].
inline void Blend(Image* im, int x, int y, float a, const std::array<uint8_t, 3>& rgb) {
  uint8_t* px = &im->bgr[(static_cast<size_t>(y) * im->width + x) * 3];
  const uint8_t bgr[3] = {rgb[2], rgb[1], rgb[0]};
  for (int c = 0; c < 3; ++c) {
    px[c] = static_cast<uint8_t>(std::lround(px[c] + a * (bgr[c] - px[c])));
  }
}

// mmpose v1.3.2 configs/_base_/datasets/coco.py: keypoint_info names, skeleton_info 0..18
// in order, keypoint colours.
constexpr std::array<const char*, 17> kCocoNames = {
    "nose",           "left_eye",   "right_eye",   "left_ear",   "right_ear",   "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
    "right_hip",      "left_knee",  "right_knee",  "left_ankle", "right_ankle"};
constexpr std::array<SkeletonLink, 19> kCocoSkeleton = {{
    {kLeftAnkle, kLeftKnee, kGreen},     {kLeftKnee, kLeftHip, kGreen},
    {kRightAnkle, kRightKnee, kOrange},  {kRightKnee, kRightHip, kOrange},
    {kLeftHip, kRightHip, kBlue},        {kLeftShoulder, kLeftHip, kBlue},
    {kRightShoulder, kRightHip, kBlue},  {kLeftShoulder, kRightShoulder, kBlue},
    {kLeftShoulder, kLeftElbow, kGreen}, {kRightShoulder, kRightElbow, kOrange},
    {kLeftElbow, kLeftWrist, kGreen},    {kRightElbow, kRightWrist, kOrange},
    {kLeftEye, kRightEye, kBlue},        {kNose, kLeftEye, kBlue},
    {kNose, kRightEye, kBlue},           {kLeftEye, kLeftEar, kBlue},
    {kRightEye, kRightEar, kBlue},       {kLeftEar, kLeftShoulder, kBlue},
    {kRightEar, kRightShoulder, kBlue},
}};
constexpr std::array<std::array<uint8_t, 3>, 17> kCocoKeypointRgb = {{
    kBlue, kBlue, kBlue, kBlue, kBlue,                  // nose, eyes, ears
    kGreen, kOrange, kGreen, kOrange, kGreen, kOrange,  // shoulders, elbows, wrists
    kGreen, kOrange, kGreen, kOrange, kGreen, kOrange,  // hips, knees, ankles
}};

// mmpose v1.3.2 configs/_base_/datasets/crowdpose.py: the same three tables for its 14
// keypoints (its colours are as listed there, e.g. left_wrist blue, right_wrist green).
constexpr std::array<const char*, 14> kCrowdPoseNames = {
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
    "right_wrist",   "left_hip",       "right_hip",  "left_knee",   "right_knee",
    "left_ankle",    "right_ankle",    "top_head",   "neck"};
constexpr std::array<SkeletonLink, 15> kCrowdPoseSkeleton = {{
    {10, 8, kGreen},
    {8, 6, kGreen},
    {11, 9, kOrange},
    {9, 7, kOrange},
    {6, 7, kBlue},
    {0, 6, kBlue},
    {1, 7, kBlue},
    {0, 1, kBlue},
    {0, 2, kGreen},
    {1, 3, kOrange},
    {2, 4, kGreen},
    {3, 5, kOrange},
    {12, 13, kBlue},
    {1, 13, kBlue},
    {0, 13, kBlue},
}};
constexpr std::array<std::array<uint8_t, 3>, 14> kCrowdPoseKeypointRgb = {{
    kBlue,
    kBlue,
    kBlue,
    kBlue,
    kBlue,
    kGreen,
    kOrange,
    kGreen,
    kOrange,
    kGreen,
    kOrange,
    kGreen,
    kOrange,
    kGreen,
}};

}  // namespace

std::span<const char* const> KeypointNames(int num_keypoints) {
  if (num_keypoints == 17) return kCocoNames;
  if (num_keypoints == 14) return kCrowdPoseNames;
  return {};
}

std::span<const SkeletonLink> Skeleton(int num_keypoints) {
  if (num_keypoints == 17) return kCocoSkeleton;
  if (num_keypoints == 14) return kCrowdPoseSkeleton;
  return {};
}

std::span<const std::array<uint8_t, 3>> KeypointColors(int num_keypoints) {
  if (num_keypoints == 17) return kCocoKeypointRgb;
  if (num_keypoints == 14) return kCrowdPoseKeypointRgb;
  return {};
}

DrawStyle StyleFor(int width, int height) {
  const float scale = std::max(1.0f, static_cast<float>(std::max(width, height)) / 640.0f);
  return {3.0f * scale, 2.0f * scale, 2.0f * scale};
}

// Coverage of a pixel centre at distance d from the shape's centre line: 1 inside,
// falling linearly to 0 over one pixel at the edge (a cheap, good-enough anti-aliasing).
void DrawSegment(Image* im, float x0, float y0, float x1, float y1, float width,
                 const std::array<uint8_t, 3>& rgb) {
  const float hw = 0.5f * width;
  if (im->width <= 0 || im->height <= 0) return;
  if (!std::isfinite(x0) || !std::isfinite(y0) || !std::isfinite(x1) || !std::isfinite(y1)) {
    return;
  }
  const float pad = hw + 1.0f;
  // Clamp in float before converting: a far-off coordinate must not overflow the int.
  auto clampx = [&](float v) { return std::clamp(v, 0.0f, static_cast<float>(im->width - 1)); };
  auto clampy = [&](float v) { return std::clamp(v, 0.0f, static_cast<float>(im->height - 1)); };
  const int xa = static_cast<int>(std::floor(clampx(std::min(x0, x1) - pad)));
  const int xb = static_cast<int>(std::ceil(clampx(std::max(x0, x1) + pad)));
  const int ya = static_cast<int>(std::floor(clampy(std::min(y0, y1) - pad)));
  const int yb = static_cast<int>(std::ceil(clampy(std::max(y0, y1) + pad)));
  const float dx = x1 - x0, dy = y1 - y0;
  const float len2 = dx * dx + dy * dy;
  for (int y = ya; y <= yb; ++y) {
    for (int x = xa; x <= xb; ++x) {
      // OpenCV/mmpose convention: pixel (x, y) has its centre at integer (x, y).
      const float px = static_cast<float>(x) - x0, py = static_cast<float>(y) - y0;
      float t = len2 > 0 ? (px * dx + py * dy) / len2 : 0.0f;
      t = std::clamp(t, 0.0f, 1.0f);
      const float ex = px - t * dx, ey = py - t * dy;
      const float d = std::sqrt(ex * ex + ey * ey);
      const float a = std::clamp(hw + 0.5f - d, 0.0f, 1.0f);
      if (a > 0) Blend(im, x, y, a, rgb);
    }
  }
}

void DrawDisc(Image* im, float cx, float cy, float radius, const std::array<uint8_t, 3>& rgb) {
  // A disc is a zero-length segment of width 2r.
  DrawSegment(im, cx, cy, cx, cy, 2.0f * radius, rgb);
}

void Draw(Image* im, const std::vector<Person>& people, const DrawOptions& options) {
  if (im == nullptr || im->width <= 0 || im->height <= 0) return;
  const DrawStyle st = StyleFor(im->width, im->height);
  const double w = im->width, h = im->height, thr = options.kpt_thr;
  if (options.boxes) {
    for (const Person& p : people) {
      const float x1 = static_cast<float>(p.bbox[0]), y1 = static_cast<float>(p.bbox[1]);
      const float x2 = static_cast<float>(p.bbox[2]), y2 = static_cast<float>(p.bbox[3]);
      DrawSegment(im, x1, y1, x2, y1, st.box_width, kBoxRgb);
      DrawSegment(im, x2, y1, x2, y2, st.box_width, kBoxRgb);
      DrawSegment(im, x2, y2, x1, y2, st.box_width, kBoxRgb);
      DrawSegment(im, x1, y2, x1, y1, st.box_width, kBoxRgb);
    }
  }
  for (const Person& p : people) {
    const auto& k = p.keypoints;
    const int n = static_cast<int>(k.size());
    // mmpose skips a link when an end is outside (0, w) x (0, h) or scores below kpt_thr.
    auto inside = [&](const Keypoint& q) { return q.x > 0 && q.x < w && q.y > 0 && q.y < h; };
    for (const SkeletonLink& l : Skeleton(n)) {
      const Keypoint& a = k[l.a];
      const Keypoint& b = k[l.b];
      if (a.score < thr || b.score < thr || !inside(a) || !inside(b)) continue;
      DrawSegment(im, static_cast<float>(a.x), static_cast<float>(a.y), static_cast<float>(b.x),
                  static_cast<float>(b.y), st.link_width, l.rgb);
    }
    const auto colors = KeypointColors(n);
    for (int i = 0; i < n; ++i) {
      if (k[i].score < thr) continue;
      DrawDisc(im, static_cast<float>(k[i].x), static_cast<float>(k[i].y), st.radius,
               colors.empty() ? kBlue : colors[i]);
    }
  }
  if (options.track_ids) {
    for (const Person& p : people) {
      if (p.track_id < 0) continue;
      DrawLabel(im, "#" + std::to_string(p.track_id), static_cast<float>(p.bbox[0]),
                static_cast<float>(p.bbox[1]));
    }
  }
  if (!options.title.empty()) DrawTitle(im, options.title);
}

namespace {

// Writes `text` (printable ASCII; other bytes become '?') with its top-left corner at (x0,
// y0) on a dark band, `s` pixels per font unit (stb_easy_font's segment font).
// stb_easy_font indexes its tables with (c - 32): only printable ASCII (and newlines) may
// reach it, whatever bytes the caller passes (every stb_easy_font call takes this).
std::string FontSafe(const std::string& text) {
  std::string t;
  for (char c : text.substr(0, 200)) t += (c == '\n' || (c >= 32 && c < 127)) ? c : '?';
  return t;
}

void DrawText(Image* im, const std::string& text, int x0, int y0, int s) {
  std::string t = FontSafe(text);
  std::vector<char> vbuf(t.size() * 64 * 16 + 64);  // generous: a glyph has < 16 quads
  const int quads =
      stb_easy_font_print(0, 0, t.data(), nullptr, vbuf.data(), static_cast<int>(vbuf.size()));
  const int tw = stb_easy_font_width(t.data()), th = stb_easy_font_height(t.data());
  const int pad = 2 * s;
  // Dark band behind the text, then the text in white: readable on any photo.
  const int bx1 = std::min(im->width, x0 + tw * s + 2 * pad);
  const int by1 = std::min(im->height, y0 + th * s + 2 * pad);
  for (int y = std::max(0, y0); y < by1; ++y) {
    for (int x = std::max(0, x0); x < bx1; ++x) Blend(im, x, y, 0.65f, {0, 0, 0});
  }
  // Each quad is 4 vertices of 16 bytes (x, y, z floats + RGBA); corners 0 and 2 are
  // opposite, axis-aligned.
  for (int q = 0; q < quads; ++q) {
    float v0[2], v2[2];
    std::memcpy(v0, vbuf.data() + q * 64, sizeof(v0));
    std::memcpy(v2, vbuf.data() + q * 64 + 32, sizeof(v2));
    const int qx0 = x0 + pad + static_cast<int>(v0[0] * s);
    const int qy0 = y0 + pad + static_cast<int>(v0[1] * s);
    const int qx1 = x0 + pad + static_cast<int>(v2[0] * s);
    const int qy1 = y0 + pad + static_cast<int>(v2[1] * s);
    for (int y = std::max(0, qy0); y < std::min(im->height, qy1); ++y) {
      for (int x = std::max(0, qx0); x < std::min(im->width, qx1); ++x) {
        Blend(im, x, y, 1.0f, {255, 255, 255});
      }
    }
  }
}

}  // namespace

void DrawTitle(Image* im, const std::string& text) {
  if (text.empty() || im->width <= 0 || im->height <= 0) return;
  std::string t = FontSafe(text);
  const int tw = stb_easy_font_width(t.data());
  // px per font unit: grows with the image, but shrinks so that the whole line fits its width.
  const int s_size = std::max(1, (std::min(im->width, im->height) + 80) / 160);
  const int s = std::max(1, std::min(s_size, im->width / std::max(1, tw + 4)));
  DrawText(im, text, 0, 0, s);
}

void DrawLabel(Image* im, const std::string& text, float x, float y) {
  if (text.empty() || im->width <= 0 || im->height <= 0 || !std::isfinite(x) || !std::isfinite(y)) {
    return;
  }
  const int s = std::max(1, (std::min(im->width, im->height) + 160) / 320);
  const int h = stb_easy_font_height(const_cast<char*>("0")) * s + 4 * s;
  // Above the box's top-left corner, kept inside the image.
  const int x0 = static_cast<int>(std::clamp(x, 0.0f, static_cast<float>(im->width - 1)));
  const int y0 = static_cast<int>(
      std::clamp(y - static_cast<float>(h), 0.0f, static_cast<float>(std::max(0, im->height - h))));
  DrawText(im, text, x0, y0, s);
}

std::vector<uint8_t> EncodeImage(const Image& image, std::string_view format, int quality) {
  if (format == "png") return EncodePng(image);
  if (format == "jpg" || format == "jpeg") {
    if (quality < 1 || quality > 100) {
      throw Error("EncodeImage: JPEG quality " + std::to_string(quality) + ": expected 1..100");
    }
    return EncodeJpeg(image, quality);
  }
  throw Error("EncodeImage: unknown format '" + std::string(format) + "' (expected png or jpg)");
}

void SaveImage(const std::string& path, const Image& image, int quality) {
  std::string ext = std::filesystem::path(path).extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext == ".png") {
    WritePng(path, image);
  } else if (ext == ".jpg" || ext == ".jpeg") {
    WriteJpeg(path, image, quality);
  } else {
    throw Error(path + ": cannot save an image as '" + ext + "' (expected .png, .jpg or .jpeg)");
  }
}

}  // namespace rtmo
