// rtmo::Model's insides (internal: tests and tools reach the network through it).
#ifndef RTMO_MODEL_IMPL_H_
#define RTMO_MODEL_IMPL_H_

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "rtmo/io/preprocess.h"
#include "rtmo/net/network.h"
#include "rtmo/rtmo.h"

namespace rtmo {

// image -> people through every step of RTMO's test-time pipeline (rtmo/model.cc), in
// `c`'s memory; `observer` (may be null) sees every module's output. RunPipeline is
// RunNetwork (letterbox, backbone, neck, head: fills c.head) then RunPostprocess
// (candidates, NMS, DCC, mapping back to the image through the returned letterbox).
template <typename T>
Letterbox RunNetwork(const Network<T>& net, Context<T>& c, const Image& image, Observer* observer);
template <typename T>
std::vector<Person> RunPostprocess(const Network<T>& net, Context<T>& c, const Letterbox& lb,
                                   T score_thr, T nms_thr, Observer* observer);
template <typename T>
std::vector<Person> RunPipeline(const Network<T>& net, Context<T>& c, const Image& image,
                                T score_thr, T nms_thr, Observer* observer);

// One loaded network of element type T, and the inference contexts not in use: Predict
// takes one (or builds one) and gives it back, so concurrent calls never share memory and a
// single-threaded caller reuses the same one.
template <typename T>
struct ModelImpl {
  Network<T> net;
  int input_w = 0, input_h = 0;
  mutable std::mutex mu;
  mutable std::vector<std::unique_ptr<Context<T>>> idle;

  std::vector<Person> Predict(const Image& image, double score_thr, double nms_thr,
                              Observer* observer, const std::string& dump_dir,
                              const std::string& dump_file) const;
  std::unique_ptr<Context<T>> Acquire() const;
  void Release(std::unique_ptr<Context<T>> c) const;
};

struct Model::Impl {
  ModelOptions options;
  ModelInfo info;
  std::unique_ptr<ModelImpl<float>> f32;   // set when options.precision == kF32
  std::unique_ptr<ModelImpl<double>> f64;  // set when options.precision == kF64
};

}  // namespace rtmo

#endif  // RTMO_MODEL_IMPL_H_
