// The `eval` command (`rtmo eval` and the standalone rtmo-eval, rtmo/cli/eval_main.cc):
// argument parsing, timing and output around rtmo/eval/cocoeval.h.
#ifndef RTMO_CLI_EVAL_CMD_H_
#define RTMO_CLI_EVAL_CMD_H_

#include <string>
#include <vector>

namespace rtmo {

// `eval` subcommand: args after the word `eval` (--ann A --results R [--json OUT]
// [--sigmas s1,...,sK]) -> exit code (0 ok, 1 bad input file, 2 bad command line).
int RunEvalCommand(const std::vector<std::string>& args);
// Same, from main's argv (argv[0] is the program name).
int RunEvalCommand(int argc, char** argv);

}  // namespace rtmo

#endif  // RTMO_CLI_EVAL_CMD_H_
