// Pre-processing: the official RTMO test-time letterbox (mmpose BottomupResize), bit-exact.
//
// mmpose v1.3.2 mmpose/datasets/transforms/bottomup_transforms.py:415-611 with its defaults
// (resize_mode='fit', use_udp=False, pad_val=114) scales the image uniformly to fit the
// network input, centres it, and resamples with
//   cv2.warpAffine(img, M, (W, H), flags=INTER_LINEAR, borderValue=(114, 114, 114)).
// The network input is that uint8 BGR image as float32 CHW, 0..255, no normalisation.
//
// WarpAffineBilinear reproduces OpenCV 4.6's fixed-point warpAffine (1/32-pixel source
// coordinates, 15-bit weights, its rounding and constant border) bit for bit; it is tested
// against Debian's python3-opencv on many sizes (tests/tools/test_letterbox_vs_opencv.py).
#ifndef RTMO_PREPROCESS_H_
#define RTMO_PREPROCESS_H_

#include <array>
#include <cstdint>

#include "kernels/tensor.h"
#include "rtmo/rtmo.h"

namespace rtmo {

// BottomupResize pad_val: the test pipeline passes (114, 114, 114)
// (configs/body_2d_keypoint/rtmo/body7/rtmo-s_8xb32-600e_body7-640x640.py:342-343; the class
// default, bottomup_transforms.py:471, is (0, 0, 0)).
inline constexpr uint8_t kLetterboxPad = 114;

// Geometry of one letterbox: image (w x h) -> network input (W x H).
struct Letterbox {
  int image_w = 0, image_h = 0;  // w, h
  int input_w = 0, input_h = 0;  // W, H
  // Image -> input affine map, closed form of the official get_warp_matrix:
  // s = min(W/w, H/h), M = [[s, 0, W/2 - s*w/2], [0, s, H/2 - s*h/2]] (float64).
  std::array<double, 6> matrix{};
  // The official metainfo used to map predictions back (bottomup_transforms.py:576-607),
  // float32 like numpy's arrays there: input_center = (w/2, h/2),
  // input_scale = (w*W/rsz_w, h*H/rsz_h) with rsz_w = min(W, H*w/h), rsz_h = min(H, W*h/w).
  std::array<float, 2> input_center{};
  std::array<float, 2> input_scale{};
  // The same centre and scale unrounded (float64): the float64 verification path's metainfo.
  std::array<double, 2> input_center64{};
  std::array<double, 2> input_scale64{};
};

// Throws rtmo::Error unless all sizes are positive.
Letterbox MakeLetterbox(int image_w, int image_h, int input_w, int input_h);

// Network-input coordinates -> image coordinates, the official formula
// (mmpose/models/pose_estimators/bottomup.py:176-185), evaluated in float64 as numpy does:
//   p_img = p_in / input_size * input_scale + input_center - 0.5 * input_scale.
std::array<double, 2> MapToImage(const Letterbox& lb, double x_in, double y_in);
// The same formula with the unrounded float64 centre and scale (the float64 path, where
// nothing is rounded to float32).
std::array<double, 2> MapToImage64(const Letterbox& lb, double x_in, double y_in);

// cv2.warpAffine(src, m, (dst_w, dst_h), flags=INTER_LINEAR, borderMode=BORDER_CONSTANT,
// borderValue=(border,)*3) of OpenCV 4.6, bit for bit. `m` maps source to destination
// (OpenCV inverts it with its own float64 code, reproduced here). Like OpenCV, every side
// must be below 32767 px (else rtmo::Error; cv2 raises an assertion there).
// src: [src_h, src_w, 3] uint8 -> dst: [dst_h, dst_w, 3] uint8.
void WarpAffineBilinear(const uint8_t* src, int src_w, int src_h, const std::array<double, 6>& m,
                        int dst_w, int dst_h, uint8_t border, uint8_t* dst);

// The letterboxed image as uint8 BGR (what cv2.warpAffine returns in the official pipeline).
// image: [h, w, 3] -> out: [H, W, 3].
void LetterboxBgr(const Image& image, const Letterbox& lb, uint8_t* out);

// The network input: float32(LetterboxBgr) transposed to planar.
// image: [h, w, 3] uint8 BGR -> out: [3, H, W] float32 BGR in 0..255.
void LetterboxChw(const Image& image, const Letterbox& lb, float* out);

// Everything Predict needs from pre-processing.
struct LetterboxedInput {
  Letterbox letterbox;
  kernels::AlignedBuffer<float> chw;  // [3, input_h, input_w]
};
// image -> LetterboxedInput for a network of input size (input_w, input_h). Throws rtmo::Error on
// an empty or inconsistent image.
LetterboxedInput Preprocess(const Image& image, int input_w, int input_h);

}  // namespace rtmo

#endif  // RTMO_PREPROCESS_H_
