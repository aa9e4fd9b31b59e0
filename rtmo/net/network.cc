#include "rtmo/net/network.h"

namespace rtmo {

template <typename T>
Network<T> LoadNetwork(nn::TensorSource& source, const ModelConfig& cfg, const kernels::Ops* ops) {
  nn::Loader<T> ld(source, ops);
  Network<T> net;
  net.cfg = cfg;
  net.ops = ops;
  // The registration order of RTMO's modules = the state_dict order.
  net.backbone = LoadCSPDarknet(ld, cfg);
  net.neck = LoadHybridEncoder(ld, cfg);
  net.head = LoadRTMOHeadModule(ld, cfg);
  net.dcc = LoadDCC(ld, cfg);
  return net;
}

template <typename T>
Network<T> LoadNetwork(const Weights& weights, const kernels::Ops* ops) {
  nn::WeightsSource source(weights);
  Network<T> net = LoadNetwork<T>(source, weights.config(), ops);
  source.CheckAllUsed();
  return net;
}

void ForEachTensor(const ModelConfig& config, const TensorVisitor& visit) {
  nn::ShapeRecorder recorder;
  LoadNetwork<float>(recorder, config, nullptr);
  for (const auto& e : recorder.entries()) visit(e.name, e.shape);
}

void ValidateLayout(const Weights& weights) {
  nn::WeightsSource source(weights);
  ForEachTensor(weights.config(), [&](const std::string& name, const std::vector<int64_t>& shape) {
    source.Get(name, shape);
  });
  source.CheckAllUsed();
}

namespace {
bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}
}  // namespace

bool IsTrainingOnly(std::string_view name) {
  return name == "head.loss_oks.sigmas" || StartsWith(name, "head.head_module.out_kpt_reg.") ||
         StartsWith(name, "head.dcc.sigma_fc.") || EndsWith(name, ".num_batches_tracked") ||
         name == "num_batches_tracked";
}

template <typename T>
Context<T>::Context(const Network<T>& net, int w, int h) : input_w(w), input_h(h) {
  const ModelConfig& cfg = net.cfg;
  input = buffers.NewMap(3, h, w);
  backbone = AllocCSPDarknet(&buffers, cfg, w, h);
  // The neck reads the backbone only through stages 2-4 (RunNetwork): the input, the stem and
  // every other backbone map are dead once the neck starts, so the neck and head maps take
  // their memory (rtmo-s at 640x640: about 74 MB of backbone maps for about 58 MB of neck
  // and head maps; the rtmo command's peak RSS fell by 57 MiB).
  buffers.Recycle({backbone.stage[1].data, backbone.stage[2].data, backbone.stage[3].data});
  neck = AllocHybridEncoder(&buffers, cfg, net.neck, w, h);
  size_t cells = 0;
  for (int l = 0; l < 2; ++l) {
    head[l] = AllocRTMOHeadLevel(&buffers, cfg, cfg.head_strides[l], w, h);
    cells += head[l].cls_score.plane();
  }
  // Upper bounds, so that Predict never grows these vectors.
  candidates.reserve(cells);
  keep.reserve(cells);
  suppressed.reserve(cells);
}

template Network<float> LoadNetwork<float>(nn::TensorSource&, const ModelConfig&,
                                           const kernels::Ops*);
template Network<float> LoadNetwork<float>(const Weights&, const kernels::Ops*);
template struct Context<float>;
template Network<double> LoadNetwork<double>(nn::TensorSource&, const ModelConfig&,
                                             const kernels::Ops*);
template Network<double> LoadNetwork<double>(const Weights&, const kernels::Ops*);
template struct Context<double>;

}  // namespace rtmo
