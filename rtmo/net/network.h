// The whole RTMO network as modules (parameters), and the memory one inference needs.
// rtmo::Model (rtmo/rtmo.h) holds a Network<float> or a Network<double>; the pipeline that
// runs them step by step is rtmo/model.cc. Tests use these types to run single modules.
//
//   input [3, H, W] -> CSPDarknet -> HybridEncoder -> RTMOHeadModule (2 levels)
//     -> SelectCandidates -> Nms -> BboxXyxy2Cs -> DCC -> MapBack
#ifndef RTMO_NET_NETWORK_H_
#define RTMO_NET_NETWORK_H_

#include <array>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/ops.h"
#include "rtmo/io/config.h"
#include "rtmo/io/weights.h"
#include "rtmo/net/backbone.h"
#include "rtmo/net/dcc.h"
#include "rtmo/net/head.h"
#include "rtmo/net/neck.h"
#include "rtmo/net/nn.h"
#include "rtmo/net/postprocess.h"

namespace rtmo {

template <typename T>
struct Network {
  ModelConfig cfg;
  const kernels::Ops* ops = nullptr;  // float: the Highway table chosen once per process
  CSPDarknet<T> backbone;
  HybridEncoder<T> neck;
  RTMOHeadModule<T> head;
  DCC<T> dcc;
};

// Builds every module from `source` (all tensors in mmpose's state_dict order; BN folded,
// RepVGG fused, convs packed for `ops` on float). Throws rtmo::Error naming the tensor on
// any missing or mis-shaped tensor.
template <typename T>
Network<T> LoadNetwork(nn::TensorSource& source, const ModelConfig& cfg, const kernels::Ops* ops);

// From a validated weights file: LoadNetwork, then refuses tensors no module read.
template <typename T>
Network<T> LoadNetwork(const Weights& weights, const kernels::Ops* ops);

// Every tensor the network reads, in the order it reads them (= the official state_dict
// order, training-only entries excluded), with its shape: the module Load functions run
// against a recorder. This is the layout the weights validator and the converter's tests
// check files against.
using TensorVisitor =
    std::function<void(const std::string& name, const std::vector<int64_t>& shape)>;
void ForEachTensor(const ModelConfig& config, const TensorVisitor& visit);

// Checks that `weights` holds exactly the tensors ForEachTensor(weights.config()) lists, each
// float32 of the listed shape. Throws rtmo::Error naming the file and the first missing,
// mis-shaped or extra tensor.
void ValidateLayout(const Weights& weights);

// True for state_dict entries the converter drops on purpose because inference never reads
// them: head.loss_oks.sigmas, head.head_module.out_kpt_reg.*, head.dcc.sigma_fc.* and every
// *.num_batches_tracked.
bool IsTrainingOnly(std::string_view name);

// Everything one inference writes, for one network input size. Built once (the maps) and
// grown on demand (per-person buffers); reused across Predict calls by one thread at a time.
template <typename T>
struct Context {
  Context(const Network<T>& net, int input_w, int input_h);
  int input_w, input_h;
  nn::Buffers<T> buffers;
  kernels::Scratch scratch;  // float kernels' packing memory
  Map<T> input;              // [3, H, W]
  CSPDarknetMaps<T> backbone;
  HybridEncoderMaps<T> neck;
  std::array<RTMOHeadMaps<T>, 2> head;
  std::vector<Candidate<T>> candidates;
  std::vector<int> keep;
  std::vector<uint8_t> suppressed;
  std::vector<DccBox<T>> boxes;
  DccBuffers<T> dcc;
  nn::Env<T> env(const Network<T>& net) { return nn::Env<T>{net.ops, &scratch}; }
};

}  // namespace rtmo

#endif  // RTMO_NET_NETWORK_H_
