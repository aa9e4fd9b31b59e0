#include "rtmo/net/postprocess.h"

#include <algorithm>
#include <cmath>

namespace rtmo {

namespace {

// mmpose/structures/bbox/bbox_overlaps.py: eps=1e-6 floors the union.
constexpr double kIouEps = 1e-6;

}  // namespace

template <typename T>
std::array<T, 2> CellPrior(int i, int j, int stride) {
  const T s = static_cast<T>(stride);
  return {static_cast<T>(j * stride) + (s - 1) / 2, static_cast<T>(i * stride) + (s - 1) / 2};
}

template <typename T>
std::array<T, 4> DecodeBox(const std::array<T, 4>& d, const std::array<T, 2>& prior, int stride) {
  const T s = static_cast<T>(stride);
  const T cx = d[0] * s + prior[0];
  const T cy = d[1] * s + prior[1];
  const T w = std::exp(d[2]) * s;
  const T h = std::exp(d[3]) * s;
  return {cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2};
}

template <typename T>
void SelectCandidates(const std::array<RTMOHeadMaps<T>, 2>& head, const std::array<int, 2>& strides,
                      T score_thr, std::vector<Candidate<T>>* out) {
  out->clear();
  int64_t base = 0;
  for (int l = 0; l < 2; ++l) {
    const Map<T>& cls = head[l].cls_score;
    const Map<T>& bb = head[l].bbox_pred;
    const int n = static_cast<int>(cls.plane());
    for (int cell = 0; cell < n; ++cell) {
      const T score = nn::Sigmoid(cls.data[cell]);
      if (!(score > score_thr)) continue;
      Candidate<T> c;
      c.index = base + cell;
      c.level = l;
      c.cell = cell;
      c.score = score;
      const auto prior = CellPrior<T>(cell / cls.w, cell % cls.w, strides[l]);
      c.prior_x = prior[0];
      c.prior_y = prior[1];
      c.box = DecodeBox<T>(
          {bb.channel(0)[cell], bb.channel(1)[cell], bb.channel(2)[cell], bb.channel(3)[cell]},
          prior, strides[l]);
      out->push_back(c);
    }
    base += n;
  }
  std::stable_sort(out->begin(), out->end(),
                   [](const Candidate<T>& a, const Candidate<T>& b) { return a.score > b.score; });
}

template <typename T>
void Nms(const std::vector<Candidate<T>>& c, T nms_thr, std::vector<int>* keep,
         std::vector<uint8_t>* suppressed) {
  keep->clear();
  suppressed->assign(c.size(), 0);
  auto area = [](const std::array<T, 4>& b) { return (b[2] - b[0]) * (b[3] - b[1]); };
  for (size_t i = 0; i < c.size(); ++i) {
    if ((*suppressed)[i]) continue;
    keep->push_back(static_cast<int>(i));
    const auto& a = c[i].box;
    const T area_a = area(a);
    for (size_t j = i + 1; j < c.size(); ++j) {
      if ((*suppressed)[j]) continue;
      const auto& b = c[j].box;
      const T w = std::max(std::min(a[2], b[2]) - std::max(a[0], b[0]), T(0));
      const T h = std::max(std::min(a[3], b[3]) - std::max(a[1], b[1]), T(0));
      const T overlap = w * h;
      const T uni = std::max(area_a + area(b) - overlap, static_cast<T>(kIouEps));
      if (overlap / uni > nms_thr) (*suppressed)[j] = 1;
    }
  }
}

template <typename T>
DccBox<T> BboxXyxy2Cs(const Candidate<T>& c, double padding) {
  const T pad = static_cast<T>(padding);
  DccBox<T> box;
  box.scale_w = (c.box[2] - c.box[0]) * pad;
  box.scale_h = (c.box[3] - c.box[1]) * pad;
  box.center_x = (c.box[2] + c.box[0]) * T(0.5);
  box.center_y = (c.box[3] + c.box[1]) * T(0.5);
  box.prior_x = c.prior_x;
  box.prior_y = c.prior_y;
  return box;
}

template <typename T>
std::array<double, 4> MapBackBox(const Letterbox& lb, const std::array<T, 4>& b) {
  const T w = static_cast<T>(lb.input_w), h = static_cast<T>(lb.input_h);
  const auto tl = MapToImageT<T>(lb, std::clamp(b[0], T(0), w), std::clamp(b[1], T(0), h));
  const auto br = MapToImageT<T>(lb, std::clamp(b[2], T(0), w), std::clamp(b[3], T(0), h));
  return {tl[0], tl[1], br[0], br[1]};
}

#define RTMO_INSTANTIATE(T)                                                                      \
  template std::array<T, 2> CellPrior<T>(int, int, int);                                         \
  template std::array<T, 4> DecodeBox<T>(const std::array<T, 4>&, const std::array<T, 2>&, int); \
  template void SelectCandidates<T>(const std::array<RTMOHeadMaps<T>, 2>&,                       \
                                    const std::array<int, 2>&, T, std::vector<Candidate<T>>*);   \
  template void Nms<T>(const std::vector<Candidate<T>>&, T, std::vector<int>*,                   \
                       std::vector<uint8_t>*);                                                   \
  template DccBox<T> BboxXyxy2Cs<T>(const Candidate<T>&, double);                                \
  template std::array<double, 4> MapBackBox<T>(const Letterbox&, const std::array<T, 4>&);
RTMO_INSTANTIATE(float)
RTMO_INSTANTIATE(double)
#undef RTMO_INSTANTIATE

}  // namespace rtmo
