// RunVideo (the `rtmo` command's video path) with a fake predictor: no model needed, so it
// also runs under ASan+UBSan. The fake puts one person per frame at a box derived from the
// frame's pts, so every JSON line and its order can be checked exactly, and the 3-slot
// decode/predict/encode pipeline is exercised on a clip long enough to wrap around.
#include "rtmo/cli/video_cmd.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "rtmo/cli/args.h"
#include "rtmo/video/reader.h"
#include "tests/video/video_util.h"

namespace rtmo::cli {
namespace {

using test::Quote;
using test::ScratchDir;
using test::Shell;

// Person at x = 10 + 100 * pts_s (moves 10 px per frame at 10 fps), score 0.9.
std::vector<Person> FakePredict(const Image& image, const PredictOptions&, double pts_s) {
  Person p;
  const double x = 10 + 100 * pts_s;
  p.bbox = {x, 20, x + 40, 100};
  p.score = 0.9;
  p.keypoints.assign(17, Keypoint{x + 20, 60, 0.9});
  EXPECT_EQ(image.width, 160);
  return {p};
}

TEST(RunVideo, FramesInOrderWithTrackIdsAndDrawnVideo) {
  ScratchDir dir;
  const std::string clip = dir / "clip.mp4";
  ASSERT_EQ(Shell(std::string(RTMO_FFMPEG) +
                  " -nostdin -v error -f lavfi -i testsrc2=size=160x120:rate=10 -frames:v 23 "
                  "-pix_fmt yuv420p -y " +
                  Quote(clip)),
            0);
  // The fake needs the frame's time; frames come in order, so count them (at 10 fps).
  int calls = 0;
  const PredictFn predict = [&](const Image& image, const PredictOptions& po) {
    return FakePredict(image, po, (calls++) * 0.1);
  };
  Options o =
      ParseArgs({"--track", "-q", "--json", dir / "p.jsonl", "--draw", dir / "d.mp4", clip});
  RunStats stats;
  ASSERT_EQ(RunVideo(o, "fake", predict, &stats), 0);
  EXPECT_EQ(stats.images, 23);
  EXPECT_EQ(stats.people, 23);
  std::ifstream f(dir / "p.jsonl");
  std::string line;
  int n = 0;
  while (std::getline(f, line)) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j.at("frame").get<int>(), n);
    EXPECT_NEAR(j.at("pts_s").get<double>(), n * 0.1, 1e-9);
    ASSERT_EQ(j.at("people").size(), 1u);
    EXPECT_EQ(j["people"][0].at("track_id").get<int>(), 1);  // one walker, one id
    EXPECT_EQ(j["people"][0].at("bbox")[0].get<double>(), 10 + 100 * (n * 0.1));
    ++n;
  }
  EXPECT_EQ(n, 23);
  VideoReader r = VideoReader::Open(dir / "d.mp4");
  VideoFrame frame;
  int drawn = 0;
  while (r.Read(&frame)) ++drawn;
  EXPECT_EQ(drawn, 23);
}

TEST(RunVideo, PredictErrorStopsAndKeepsEarlierFrames) {
  ScratchDir dir;
  const std::string clip = dir / "clip.mkv";
  ASSERT_EQ(Shell(std::string(RTMO_FFMPEG) +
                  " -nostdin -v error -f lavfi -i testsrc2=size=160x120:rate=10 -frames:v 9 "
                  "-pix_fmt yuv420p -y " +
                  Quote(clip)),
            0);
  int calls = 0;
  const PredictFn predict = [&](const Image& image, const PredictOptions& po) {
    if (calls == 4) throw Error("fake failure");
    return FakePredict(image, po, (calls++) * 0.1);
  };
  Options o = ParseArgs({"-q", "--json", dir / "p.jsonl", "--draw", dir / "d.mp4", clip});
  RunStats stats;
  std::FILE* err = std::tmpfile();
  EXPECT_EQ(RunVideo(o, "fake", predict, &stats, err), 1);
  std::rewind(err);
  char buf[2048] = {};
  const size_t len = std::fread(buf, 1, sizeof(buf) - 1, err);
  std::fclose(err);
  const std::string msg(buf, len);
  EXPECT_NE(msg.find(clip + ": frame 4: fake failure"), std::string::npos) << msg;
  EXPECT_NE(msg.find("the 4 frames before it are kept"), std::string::npos) << msg;
  std::ifstream f(dir / "p.jsonl");
  std::string line;
  int n = 0;
  while (std::getline(f, line)) ++n;
  EXPECT_EQ(n, 4);
  VideoReader r = VideoReader::Open(dir / "d.mp4");
  EXPECT_EQ(r.info().frame_count, 4);
}

}  // namespace
}  // namespace rtmo::cli
