// The `rtmo` command on a video (video issue 17): frames in, JSON Lines and a drawn video
// out, optional tracking. Called by RunPredictions when the INPUT is a video.
//
// video_cmd.cc is compiled in two flavours (rtmo/CMakeLists.txt): with RTMO_HAVE_VIDEO
// (FFmpeg linked: `rtmo-video`, the tests) and without (`rtmo`, which then hands video
// command lines to rtmo-video, so that images never pay for mapping FFmpeg: issue 18).
#ifndef RTMO_CLI_VIDEO_CMD_H_
#define RTMO_CLI_VIDEO_CMD_H_

#include <cstdio>
#include <string>

#include "rtmo/cli/args.h"
#include "rtmo/cli/run.h"

namespace rtmo::cli {

// True if the command line names a video input (IsVideoInput on any INPUT that is not an
// existing directory).
bool HasVideoInput(const Options& options);

// Hands a video command line over to `rtmo-video`, the same command built with FFmpeg: the
// `rtmo` program of a video-enabled build links no FFmpeg (its 136 shared libraries cost
// ~24 MiB RSS and start-up time on every image run). Call after parsing the arguments and
// before loading the model. `argv` is main's (NULL-terminated), passed on unchanged.
// Returns -1 when this process runs the command itself: no video input, this program
// decodes video, or the build has no rtmo-video (RunVideo then refuses the input).
// Otherwise replaces the process with the first of
//   <directory of /proc/self/exe>/rtmo-video             (the build tree)
//   <directory of /proc/self/exe>/<bin-to-libexec>/rtmo-video  (installed: libexec/rtmo/)
// that can be executed (never returns), or reports the paths tried on `err` and returns 1.
int HandOverVideo(const Options& options, char* const argv[], std::FILE* err = stderr);

// Runs `predict` on the frames of the single video INPUT (options.inputs[0]):
//  - --json FILE: one JSON line per processed frame, flushed as each frame completes, in a
//    temporary file renamed to FILE at the end (or on Ctrl-C);
//  - --draw FILE.mp4 / --draw-video FILE: the drawn frames, H.264, renamed into place when
//    complete;
//  - --track: Person::track_id from rtmo::Tracker.
// Decoding of frame i+1 and drawing/encoding of frame i-1 run on two helper threads while
// the network runs on frame i; results are written in frame order. An output never
// replaces the input. Returns the exit status (0 ok, 1 an input/output failed; frames
// before a decode error are kept). stats->images counts frames.
int RunVideo(const Options& options, const std::string& model_label, const PredictFn& predict,
             RunStats* stats, std::FILE* err = stderr);

}  // namespace rtmo::cli

#endif  // RTMO_CLI_VIDEO_CMD_H_
