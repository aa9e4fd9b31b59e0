// The `rtmo` command's main loop, separated from the model so it is tested with a fake
// predictor (tests/rtmo/cli_test.cc) and under ASan+UBSan without weights.
#ifndef RTMO_CLI_RUN_H_
#define RTMO_CLI_RUN_H_

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "rtmo/cli/args.h"
#include "rtmo/rtmo.h"

namespace rtmo::cli {

// image, options (thresholds, dump dir for this image) -> people. May throw rtmo::Error.
using PredictFn = std::function<std::vector<Person>(const Image&, const PredictOptions&)>;

struct RunStats {
  int images = 0;         // processed successfully
  int failed = 0;         // inputs that could not be read or predicted
  int output_errors = 0;  // outputs (drawings, JSON) that could not be written
  int people = 0;
  double predict_seconds = 0;  // sum over images of the model's time (decode excluded)
};

// Collects the inputs, checks what must be known before any work (COCO ids, output
// directories), then runs `predict` on each image: a failing input is reported on `err`
// naming the file and skipped; outputs are written atomically. Returns the exit status:
// 0 all went well, 1 anything failed. `model_label` is the "model" field of --json.
int RunPredictions(const Options& options, const std::string& model_label, const PredictFn& predict,
                   RunStats* stats, std::FILE* err = stderr);

}  // namespace rtmo::cli

#endif  // RTMO_CLI_RUN_H_
