// The one list of tensors the inference model needs, by their official mmpose state_dict
// names (the names the converter keeps, weights/FORMAT.md). The loader, the converter's
// tests and the network all walk this list, so a name lives in exactly one place.
#ifndef RTMO_LAYOUT_H_
#define RTMO_LAYOUT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "rtmo/io/config.h"

namespace rtmo {

using TensorVisitor =
    std::function<void(const std::string& name, const std::vector<int64_t>& shape)>;

// Calls `visit` once per tensor of the model described by `config`, in the official
// state_dict order (the order of `model.state_dict()` in mmpose v1.3.2), with the shape
// computed from the config. Training-only entries (IsTrainingOnly) are not visited; the
// constant buffers (neck.sincos_pos_enc.dim_t, head.dcc.{x,y}_bins, head.dcc.spe.dim_t)
// are, because they are part of every released checkpoint.
void ForEachTensor(const ModelConfig& config, const TensorVisitor& visit);

// True for state_dict entries the converter drops on purpose because inference never
// reads them: head.loss_oks.sigmas, head.head_module.out_kpt_reg.*, head.dcc.sigma_fc.*
// and every *.num_batches_tracked.
bool IsTrainingOnly(std::string_view name);

}  // namespace rtmo

#endif  // RTMO_LAYOUT_H_
