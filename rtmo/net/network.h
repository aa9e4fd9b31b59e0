// The whole RTMO network as modules, and the memory one inference needs.
// rtmo::Model (rtmo/rtmo.h) is a thin wrapper around this; tests use it directly to run
// single modules on golden inputs and to pick the kernel table.
//
//   input [3, H, W] -> Backbone -> Neck -> HeadModule -> SelectCandidates -> Nms -> Dcc
#ifndef RTMO_NETWORK_H_
#define RTMO_NETWORK_H_

#include <memory>
#include <vector>

#include "kernels/ops.h"
#include "rtmo/net/backbone.h"
#include "rtmo/io/config.h"
#include "rtmo/net/dcc.h"
#include "rtmo/io/dump.h"
#include "rtmo/net/head.h"
#include "rtmo/net/neck.h"
#include "rtmo/net/nn.h"
#include "rtmo/io/weights.h"

namespace rtmo {

struct Network {
  ModelConfig cfg;
  const kernels::Ops* ops = nullptr;
  Backbone backbone;
  Neck neck;
  HeadModule head;
  Dcc dcc;
};

// Builds every module from validated weights (BN folded, RepVGG fused, convs packed for
// `ops`). Throws rtmo::Error naming the tensor on any missing or mis-shaped tensor.
Network LoadNetwork(const Weights& weights, const kernels::Ops& ops);

// One instance in network-input pixels, before clamping and mapping back.
struct Instance {
  Candidate cand;                      // cell, score, unclamped box, prior
  std::vector<float> keypoints;        // [K, 2]
  std::vector<float> keypoint_scores;  // [K], sigmoid(kpt_vis)
};

// Everything one inference writes. Built once (all allocations happen here and in the
// first calls that grow the vectors); reused across Predict calls by one thread at a time.
struct Context {
  explicit Context(const ModelConfig& cfg);
  nn::Buffers buffers;
  nn::MapView input;  // [3, H, W]
  BackboneMaps backbone;
  NeckMaps neck;
  HeadMaps head;
  kernels::Scratch scratch;
  // The DCC runs its instances in parallel: one scratch set per OpenMP thread (grown
  // only when a call runs with more threads than any call before).
  struct DccWorker {
    DccScratch dcc;
    kernels::Scratch scratch;
  };
  std::vector<std::unique_ptr<DccWorker>> dcc_workers;
  // The DCC's first Linear runs once over all kept instances: [n, P] in, [n, K*D] out
  // (grown only when a call keeps more people than any call before).
  std::vector<float> dcc_pose_vecs, dcc_kpt_feats;
  std::vector<Candidate> candidates;
  std::vector<int> keep;
  std::vector<uint8_t> suppressed;
  std::vector<Instance> instances;
};

// ctx.input -> ctx.head (backbone, neck, head module).
void RunDense(const Network& net, Context& ctx);
// ctx.head -> ctx.instances (score filter, sort, NMS, DCC). Writes the post-processing
// dumps (pre_nms.*, nms.keep, dcc.*, keypoints.input) when dump != nullptr.
void RunPost(const Network& net, Context& ctx, float score_thr, float nms_thr, const Dumper* dump);
// Writes the dense dumps (input, backbone.*, neck.*, head.*).
void DumpDense(const Context& ctx, const Dumper& dump);

}  // namespace rtmo

#endif  // RTMO_NETWORK_H_
