// rtmo-eval: the COCO keypoint evaluator as a standalone program; the same code runs as
// `rtmo eval` (rtmo::RunEvalCommand). Usage: rtmo-eval --ann ANN.json --results RES.json
// [--json OUT.json] [--sigmas s1,...,sK] [--timing] (rtmo-eval --help).
#include "rtmo/cli/eval_cmd.h"

int main(int argc, char** argv) { return rtmo::RunEvalCommand(argc, argv); }
