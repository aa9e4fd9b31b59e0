// `rtmo` on videos, end to end, with the goldens fixture's seeded random-weight rtmo-t
// (RTMO_GOLDENS/rtmo-t/model.rtmo): the poses are meaningless but deterministic, so the JSON
// Lines are checked against Model::Predict on the frames VideoReader returns. RTMO_EXE is
// `rtmo`, which hands videos to RTMO_VIDEO_EXE (rtmo-video) by exec: every test here runs
// through that hand-over; the VideoHandover tests check the hand-over itself.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "rtmo/rtmo.h"
#include "rtmo/video/reader.h"
#include "tests/video/video_util.h"

namespace rtmo {
namespace {

using test::Quote;
using test::ScratchDir;
using test::Shell;
using test::Slurp;

const std::string kDemo = std::string(RTMO_TEST_DATA_DIR) + "/video/demo.mp4";

std::string ModelPath() {
  const char* g = std::getenv("RTMO_GOLDENS");
  return g ? std::string(g) + "/rtmo-t/model.rtmo" : "";
}

class VideoCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(ModelPath())) GTEST_SKIP() << "no goldens (RTMO_GOLDENS)";
  }
  // Runs rtmo (or `exe`) with `args`; stderr goes to err_ (read it with Err()).
  int Rtmo(const std::string& args, const std::string& stdin_file = "",
           const std::string& exe = RTMO_EXE) {
    std::string cmd = Quote(exe) + " -q --threads 1 -m " + Quote(ModelPath()) + " " + args +
                      " 2> " + Quote(dir_ / "stderr.txt");
    if (!stdin_file.empty()) cmd += " < " + Quote(stdin_file);
    return Shell(cmd);
  }
  std::string Err() { return Slurp(dir_ / "stderr.txt"); }
  std::vector<nlohmann::json> Lines(const std::string& path) {
    std::vector<nlohmann::json> out;
    std::ifstream f(path);
    std::string line;
    while (std::getline(f, line)) out.push_back(nlohmann::json::parse(line));
    return out;
  }
  ScratchDir dir_;
};

TEST_F(VideoCli, JsonLinesAndDrawnVideoMatchPredict) {
  const std::string jsonl = dir_ / "poses.jsonl", drawn = dir_ / "drawn.mp4";
  ASSERT_EQ(Rtmo("--track --json " + Quote(jsonl) + " --draw " + Quote(drawn) + " " + Quote(kDemo)),
            0)
      << Err();
  const std::vector<nlohmann::json> lines = Lines(jsonl);
  ASSERT_EQ(lines.size(), 5u);
  const Model model = Model::Load(ModelPath());
  VideoReader reader = VideoReader::Open(kDemo);
  VideoFrame frame;
  for (size_t i = 0; i < lines.size(); ++i) {
    ASSERT_TRUE(reader.Read(&frame));
    const nlohmann::json& l = lines[i];
    EXPECT_EQ(l.at("frame").get<int>(), static_cast<int>(i));
    EXPECT_NEAR(l.at("pts_s").get<double>(), i / 5.0, 1e-9);
    EXPECT_EQ(l.at("width").get<int>(), 960);
    EXPECT_EQ(l.at("height").get<int>(), 540);
    const std::vector<Person> people = model.Predict(frame.image);
    const nlohmann::json& ps = l.at("people");
    ASSERT_EQ(ps.size(), people.size()) << "frame " << i;
    std::set<int> ids;
    for (size_t p = 0; p < people.size(); ++p) {
      // JSON numbers are written with round-trip precision: exact equality.
      for (int k = 0; k < 4; ++k) EXPECT_EQ(ps[p].at("bbox")[k].get<double>(), people[p].bbox[k]);
      EXPECT_EQ(ps[p].at("score").get<double>(), people[p].score);
      ASSERT_EQ(ps[p].at("keypoints").size(), 17u);
      EXPECT_EQ(ps[p].at("keypoints")[3][0].get<double>(), people[p].keypoints[3].x);
      const int id = ps[p].at("track_id").get<int>();
      if (id >= 0) {
        EXPECT_TRUE(ids.insert(id).second) << "duplicate id " << id;
      }
      // Confident people always get an id (they start a track if nothing matches).
      if (people[p].score >= 0.5) {
        EXPECT_GE(id, 1);
      }
    }
  }
  // The drawn video: same size, same frame count and rate.
  VideoReader r = VideoReader::Open(drawn);
  EXPECT_EQ(r.info().width, 960);
  EXPECT_EQ(r.info().height, 540);
  EXPECT_EQ(r.info().frame_count, 5);
  EXPECT_NEAR(r.info().fps, 5.0, 1e-9);
  EXPECT_EQ(r.info().codec, "h264");
}

TEST_F(VideoCli, WithoutTrackIdsAreMinusOne) {
  const std::string jsonl = dir_ / "p.json";
  ASSERT_EQ(Rtmo("--score-thr 0.05 --json " + Quote(jsonl) + " " + Quote(kDemo)), 0) << Err();
  const auto lines = Lines(jsonl);
  ASSERT_EQ(lines.size(), 5u);
  size_t people = 0;
  for (const auto& l : lines) {
    for (const auto& p : l.at("people")) EXPECT_EQ(p.at("track_id").get<int>(), -1);
    people += l.at("people").size();
  }
  EXPECT_GT(people, 0u);  // the test would be vacuous without anyone
}

TEST_F(VideoCli, EveryStartDuration) {
  const std::string jsonl = dir_ / "e.jsonl", drawn = dir_ / "e.mkv";
  ASSERT_EQ(Rtmo("--every 2 --json " + Quote(jsonl) + " --draw-video " + Quote(drawn) + " " +
                 Quote(kDemo)),
            0)
      << Err();
  auto lines = Lines(jsonl);
  ASSERT_EQ(lines.size(), 3u);  // frames 0, 2, 4
  EXPECT_EQ(lines[1].at("frame").get<int>(), 2);
  EXPECT_NEAR(lines[1].at("pts_s").get<double>(), 0.4, 1e-9);
  EXPECT_NEAR(lines[2].at("pts_s").get<double>(), 0.8, 1e-9);
  VideoReader r = VideoReader::Open(drawn);
  EXPECT_NEAR(r.info().fps, 2.5, 1e-9);  // every 2nd frame at half the rate
  VideoFrame f;
  int n = 0;
  while (r.Read(&f)) ++n;
  EXPECT_EQ(n, 3);

  ASSERT_EQ(Rtmo("--start 0.2 --duration 0.4 --json " + Quote(jsonl) + " " + Quote(kDemo)), 0)
      << Err();
  lines = Lines(jsonl);
  ASSERT_EQ(lines.size(), 2u);  // 0.2 and 0.4 (0.6 is the end)
  EXPECT_NEAR(lines[0].at("pts_s").get<double>(), 0.2, 1e-9);
  EXPECT_EQ(lines[0].at("frame").get<int>(), 1);  // its place in the whole video
}

TEST_F(VideoCli, StandardInput) {
  // mp4 needs seeking (its index is at the end): pipe an MPEG-TS copy of the same stream.
  const std::string ts = dir_ / "demo.ts";
  ASSERT_EQ(Shell(std::string(RTMO_FFMPEG) + " -nostdin -v error -i " + Quote(kDemo) +
                  " -c copy -f mpegts -y " + Quote(ts)),
            0);
  const std::string jsonl = dir_ / "s.jsonl";
  ASSERT_EQ(Rtmo("--json " + Quote(jsonl) + " -", ts), 0) << Err();
  EXPECT_EQ(Lines(jsonl).size(), 5u);
}

TEST_F(VideoCli, UrlInputOverHttp) {
  // A local HTTP server (python3 -m http.server on a free port) serving an MPEG-TS copy of
  // the sample (its server cannot seek, which mp4's trailing index would need).
  const std::string www = dir_ / "www";
  std::filesystem::create_directory(www);
  ASSERT_EQ(Shell(std::string(RTMO_FFMPEG) + " -nostdin -v error -i " + Quote(kDemo) +
                  " -c copy -f mpegts -y " + Quote(www + "/demo.ts")),
            0);
  const std::string log = dir_ / "http.log", pid = dir_ / "http.pid";
  ASSERT_EQ(Shell(std::string(RTMO_PYTHON) + " -u -m http.server 0 --bind 127.0.0.1 --directory " +
                  Quote(www) + " > " + Quote(log) + " 2>&1 & echo $! > " + Quote(pid)),
            0);
  std::string port;
  for (int i = 0; i < 100 && port.empty(); ++i) {  // up to 10 s for the server to start
    const std::string text = Slurp(log);
    const size_t at = text.find(" port ");
    if (at != std::string::npos) {
      const size_t end = text.find_first_not_of("0123456789", at + 6);
      if (end != std::string::npos) port = text.substr(at + 6, end - at - 6);
    }
    if (port.empty()) usleep(100000);
  }
  const std::string file_jsonl = dir_ / "f.jsonl", url_jsonl = dir_ / "u.jsonl";
  int url_rc = -1;
  if (!port.empty()) {
    url_rc = Rtmo("--track --json " + Quote(url_jsonl) + " http://127.0.0.1:" + port + "/demo.ts");
  }
  Shell("kill $(cat " + Quote(pid) + ")");
  ASSERT_FALSE(port.empty()) << Slurp(log);
  ASSERT_EQ(url_rc, 0) << Err();
  ASSERT_EQ(Rtmo("--track --json " + Quote(file_jsonl) + " " + Quote(kDemo)), 0) << Err();
  const auto from_url = Lines(url_jsonl), from_file = Lines(file_jsonl);
  ASSERT_EQ(from_url.size(), 5u);
  ASSERT_EQ(from_file.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(from_url[i].at("people"), from_file[i].at("people")) << "frame " << i;
    EXPECT_NEAR(from_url[i].at("pts_s").get<double>(), i / 5.0, 1e-9);
  }
}

TEST_F(VideoCli, NeverOverwritesTheInput) {
  const std::string copy = dir_ / "in.mp4";
  std::filesystem::copy_file(kDemo, copy);
  const std::string before = Slurp(copy);
  EXPECT_EQ(Rtmo("--draw " + Quote(copy) + " " + Quote(copy)), 1);
  EXPECT_NE(Err().find("refusing to overwrite"), std::string::npos) << Err();
  EXPECT_EQ(Rtmo("--json " + Quote(copy) + " " + Quote(copy)), 1);
  // The same file through another spelling of its path.
  EXPECT_EQ(Rtmo("--json " + Quote(dir_.path() + "/./in.mp4") + " " + Quote(copy)), 1);
  EXPECT_EQ(Slurp(copy), before);
}

TEST_F(VideoCli, RefusedOptionsAndBadInputs) {
  EXPECT_EQ(Rtmo("--coco-results " + Quote(dir_ / "c.json") + " " + Quote(kDemo)), 1);
  EXPECT_NE(Err().find("--coco-results"), std::string::npos) << Err();
  EXPECT_EQ(Rtmo("--draw " + Quote(dir_ / "outdir") + " " + Quote(kDemo)), 1);
  EXPECT_NE(Err().find("output video"), std::string::npos) << Err();
  const std::string missing = dir_ / "missing.mp4";
  EXPECT_EQ(Rtmo("--json " + Quote(dir_ / "m.jsonl") + " " + Quote(missing)), 1);
  EXPECT_NE(Err().find(missing), std::string::npos) << Err();
  EXPECT_FALSE(std::filesystem::exists(dir_ / "m.jsonl"));
  EXPECT_EQ(Rtmo(Quote(kDemo) + " " + Quote(kDemo)), 1);                    // one video at a time
  EXPECT_EQ(Rtmo("--json " + Quote(dir_.path()) + " " + Quote(kDemo)), 1);  // a directory
  EXPECT_NE(Err().find("is a directory"), std::string::npos) << Err();
}

TEST_F(VideoCli, TruncatedVideoKeepsTheFramesBeforeTheCut) {
  const std::string clip = dir_ / "fs.mp4";
  ASSERT_EQ(Shell(std::string(RTMO_FFMPEG) +
                  " -nostdin -v error -f lavfi -i testsrc2=size=160x128:rate=10 -frames:v 12 "
                  "-pix_fmt yuv420p -movflags +faststart -y " +
                  Quote(clip)),
            0);
  const std::string data = Slurp(clip);
  const std::string cut = dir_ / "cut.mp4";
  std::ofstream(cut, std::ios::binary) << data.substr(0, data.size() / 2);
  const std::string jsonl = dir_ / "t.jsonl", drawn = dir_ / "t.mp4";
  EXPECT_EQ(Rtmo("--json " + Quote(jsonl) + " --draw " + Quote(drawn) + " " + Quote(cut)), 1);
  EXPECT_NE(Err().find(cut), std::string::npos) << Err();
  const size_t n = Lines(jsonl).size();
  EXPECT_GT(n, 0u);
  EXPECT_LT(n, 12u);
  VideoReader r = VideoReader::Open(drawn);  // complete and decodable
  EXPECT_EQ(r.info().frame_count, static_cast<int64_t>(n));
}

// `rtmo` hands a video command line to rtmo-video by exec (issue 18): what the user sees,
// outputs and exit status included, is rtmo-video's.
TEST_F(VideoCli, HandOverKeepsOutputsAndExitStatus) {
  const std::string a = dir_ / "a.jsonl", b = dir_ / "b.jsonl";
  ASSERT_EQ(Rtmo("--track --every 2 --json " + Quote(a) + " " + Quote(kDemo)), 0) << Err();
  ASSERT_EQ(Rtmo("--track --every 2 --json " + Quote(b) + " " + Quote(kDemo), "", RTMO_VIDEO_EXE),
            0)
      << Err();
  EXPECT_EQ(Lines(a).size(), 3u);
  EXPECT_EQ(Slurp(a), Slurp(b));
  // Failures: a missing video (1), a usage error (2, caught before the hand-over).
  const std::string missing = dir_ / "missing.mp4";
  for (const std::string& args : {Quote(missing), "--every 0 " + Quote(kDemo)}) {
    const int via_rtmo = Rtmo(args);
    const std::string err_rtmo = Err();
    const int direct = Rtmo(args, "", RTMO_VIDEO_EXE);
    EXPECT_NE(direct, 0) << args;
    EXPECT_EQ(via_rtmo, direct) << args;
    EXPECT_EQ(err_rtmo, Err()) << args;
  }
}

// The programs' links: `rtmo` maps no FFmpeg library, not even indirectly; rtmo-video
// links them.
TEST(VideoHandover, OnlyRtmoVideoLinksFFmpeg) {
  ScratchDir dir;
  auto run = [&](const std::string& cmd) {
    const std::string out = dir / "out.txt";
    EXPECT_EQ(Shell(cmd + " > " + Quote(out)), 0) << cmd;
    return Slurp(out);
  };
  const std::string rtmo_needed = run("readelf -d " + Quote(RTMO_EXE));
  const std::string rtmo_ldd = run("ldd " + Quote(RTMO_EXE));
  const std::string video_needed = run("readelf -d " + Quote(RTMO_VIDEO_EXE));
  // Dynamic executables with a C++ runtime: the absences below are not vacuous.
  ASSERT_NE(rtmo_needed.find("libstdc++"), std::string::npos) << rtmo_needed;
  ASSERT_NE(rtmo_ldd.find("libstdc++"), std::string::npos) << rtmo_ldd;
  for (const char* lib :
       {"libavformat", "libavcodec", "libavutil", "libswscale", "libavdevice", "libswresample"}) {
    EXPECT_EQ(rtmo_needed.find(lib), std::string::npos) << lib << "\n" << rtmo_needed;
    EXPECT_EQ(rtmo_ldd.find(lib), std::string::npos) << lib << "\n" << rtmo_ldd;
  }
  for (const char* lib : {"libavformat", "libavcodec", "libavutil", "libswscale"}) {
    EXPECT_NE(video_needed.find(lib), std::string::npos) << lib << "\n" << video_needed;
  }
}

// Where `rtmo` looks for rtmo-video: next to itself, then in ../libexec/rtmo (the installed
// layout); neither: a message naming both, before any model is loaded (the model given
// here does not exist, so reaching the load would say so instead). rtmo-video itself never
// looks for another program.
TEST(VideoHandover, FindsRtmoVideoOrSaysWhereItLooked) {
  ScratchDir scratch;
  const std::string dir = std::filesystem::canonical(scratch.path()).native();
  std::filesystem::create_directories(dir + "/bin");
  std::filesystem::create_directories(dir + "/libexec/rtmo");
  std::filesystem::copy_file(RTMO_EXE, dir + "/bin/rtmo");
  const std::string out = dir + "/o.jsonl", err = dir + "/err.txt";
  auto run = [&](const std::string& exe) {
    return Shell(Quote(exe) + " -q -m " + Quote(dir + "/none.rtmo") + " --json " + Quote(out) +
                 " " + Quote(kDemo) + " 2> " + Quote(err));
  };
  EXPECT_EQ(run(dir + "/bin/rtmo"), 1);
  const std::string msg = Slurp(err);
  EXPECT_NE(msg.find("rtmo: error: " + kDemo + ": a video input needs rtmo-video"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("tried " + dir + "/bin/rtmo-video (No such file or directory), " + dir +
                     "/libexec/rtmo/rtmo-video (No such file or directory)"),
            std::string::npos)
      << msg;
  EXPECT_EQ(msg.find("cannot load the model"), std::string::npos) << msg;
  EXPECT_EQ(std::count(msg.begin(), msg.end(), '\n'), 1) << msg;
  EXPECT_FALSE(std::filesystem::exists(out));

  // Installed layout: bin/rtmo runs libexec/rtmo/rtmo-video, which reports the model.
  std::filesystem::copy_file(RTMO_VIDEO_EXE, dir + "/libexec/rtmo/rtmo-video");
  EXPECT_EQ(run(dir + "/bin/rtmo"), 1);
  EXPECT_NE(Slurp(err).find("rtmo: error: cannot load the model"), std::string::npos) << Slurp(err);
  // rtmo-video alone (nothing next to it) runs the video itself: the same model message.
  std::filesystem::rename(dir + "/libexec/rtmo/rtmo-video", dir + "/rtmo-video");
  EXPECT_EQ(run(dir + "/rtmo-video"), 1);
  EXPECT_NE(Slurp(err).find("rtmo: error: cannot load the model"), std::string::npos) << Slurp(err);
  EXPECT_FALSE(std::filesystem::exists(out));
}

}  // namespace
}  // namespace rtmo
