// --trace: an Observer that prints every module output of an inference as it is computed,
// one line each: name, dtype, shape, min / mean / max (and the count of non-finite values
// if any). For following the pipeline step by step and for spotting where a bad input or
// a broken weight file first produces NaNs.
#ifndef RTMO_CLI_TRACE_H_
#define RTMO_CLI_TRACE_H_

#include <cstdio>

#include "rtmo/rtmo.h"

namespace rtmo::cli {

class TraceObserver : public Observer {
 public:
  explicit TraceObserver(std::FILE* out) : out_(out) {}
  void OnTensor(const TensorView& t) override;

 private:
  std::FILE* out_;
};

}  // namespace rtmo::cli

#endif  // RTMO_CLI_TRACE_H_
