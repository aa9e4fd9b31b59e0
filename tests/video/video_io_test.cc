// VideoReader / VideoWriter. Reference frames come from tools that are not the code under
// test: the ffmpeg CLI (`-f rawvideo -pix_fmt bgr24`, the conversion OpenCV also makes) and
// python3-opencv's cv2.VideoCapture on the sample video.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "rtmo/error.h"
#include "rtmo/video/reader.h"
#include "rtmo/video/writer.h"
#include "tests/video/video_util.h"

namespace rtmo {
namespace {

using test::Quote;
using test::ScratchDir;
using test::Shell;
using test::Slurp;

const std::string kDemo = std::string(RTMO_TEST_DATA_DIR) + "/video/demo.mp4";

// ffmpeg's lavfi test pattern: `frames` frames of w x h at `fps`, H.264 4:2:0 (extra
// arguments go before the output name).
std::string MakeClip(const ScratchDir& dir, const std::string& name, int w, int h, int fps,
                     int frames, const std::string& extra = "") {
  const std::string path = dir / name;
  const std::string cmd = std::string(RTMO_FFMPEG) +
                          " -nostdin -v error -f lavfi -i testsrc2=size=" + std::to_string(w) +
                          "x" + std::to_string(h) + ":rate=" + std::to_string(fps) + " -frames:v " +
                          std::to_string(frames) + " -pix_fmt yuv420p " + extra + " -y " +
                          Quote(path);
  EXPECT_EQ(Shell(cmd), 0) << cmd;
  return path;
}

// All frames as the ffmpeg CLI converts them to BGR24, concatenated.
std::string FfmpegBgr(const ScratchDir& dir, const std::string& clip) {
  const std::string raw = dir / "ref.bgr";
  const std::string cmd = std::string(RTMO_FFMPEG) + " -nostdin -v error -i " + Quote(clip) +
                          " -f rawvideo -pix_fmt bgr24 -y " + Quote(raw);
  EXPECT_EQ(Shell(cmd), 0) << cmd;
  return Slurp(raw);
}

std::vector<VideoFrame> ReadAll(const std::string& source, const VideoReaderOptions& o = {}) {
  VideoReader r = VideoReader::Open(source, o);
  std::vector<VideoFrame> frames;
  VideoFrame f;
  while (r.Read(&f)) frames.push_back(f);
  return frames;
}

TEST(VideoReader, TestPatternFramesSizesTimestamps) {
  ScratchDir dir;
  const std::string clip = MakeClip(dir, "clip.mp4", 160, 120, 10, 12);
  VideoReader r = VideoReader::Open(clip);
  EXPECT_EQ(r.info().width, 160);
  EXPECT_EQ(r.info().height, 120);
  EXPECT_DOUBLE_EQ(r.info().fps, 10.0);
  EXPECT_EQ(r.info().frame_count, 12);
  EXPECT_EQ(r.info().codec, "h264");
  const std::string ref = FfmpegBgr(dir, clip);
  const size_t frame_bytes = 160 * 120 * 3;
  ASSERT_EQ(ref.size(), 12 * frame_bytes);
  VideoFrame f;
  int n = 0;
  while (r.Read(&f)) {
    ASSERT_LT(n, 12);
    EXPECT_EQ(f.index, n);
    // mp4 timestamps are integers of the stream time base: n/10 s up to rounding.
    EXPECT_NEAR(f.pts_s, n / 10.0, 1e-9);
    ASSERT_EQ(f.image.width, 160);
    ASSERT_EQ(f.image.height, 120);
    ASSERT_EQ(f.image.bgr.size(), frame_bytes);
    EXPECT_EQ(0, std::memcmp(f.image.bgr.data(), ref.data() + n * frame_bytes, frame_bytes))
        << "frame " << n << " differs from ffmpeg -pix_fmt bgr24";
    ++n;
  }
  EXPECT_EQ(n, 12);
  EXPECT_FALSE(r.Read(&f));  // stays at the end
}

TEST(VideoReader, OtherContainersAndOddSize) {
  ScratchDir dir;
  // MPEG-4 part 2 in AVI, VP8? (not always built): mpeg4/avi and mjpeg/mkv are in every FFmpeg.
  for (const auto& [name, extra] : std::vector<std::pair<std::string, std::string>>{
           {"a.avi", "-c:v mpeg4"}, {"b.mkv", "-c:v mjpeg -pix_fmt yuvj420p"}}) {
    const std::string clip = MakeClip(dir, name, 96, 64, 5, 7, extra);
    const std::vector<VideoFrame> frames = ReadAll(clip);
    const std::string ref = FfmpegBgr(dir, clip);
    ASSERT_EQ(frames.size(), 7u) << name;
    for (size_t i = 0; i < frames.size(); ++i) {
      EXPECT_EQ(0,
                std::memcmp(frames[i].image.bgr.data(), ref.data() + i * 96 * 64 * 3, 96 * 64 * 3))
          << name << " frame " << i;
    }
  }
}

TEST(VideoReader, SampleVideoBitIdenticalToOpenCV) {
  ScratchDir dir;
  const std::string raw = dir / "cv.bgr";
  const std::string py =
      "import cv2,sys\n"
      "cap=cv2.VideoCapture(sys.argv[1])\n"
      "out=open(sys.argv[2],'wb')\n"
      "while True:\n"
      "    ok,f=cap.read()\n"
      "    if not ok: break\n"
      "    out.write(f.tobytes())\n";
  const std::string script = dir / "cv.py";
  std::ofstream(script) << py;
  ASSERT_EQ(
      Shell(std::string(RTMO_PYTHON) + " " + Quote(script) + " " + Quote(kDemo) + " " + Quote(raw)),
      0);
  const std::string ref = Slurp(raw);
  const std::vector<VideoFrame> frames = ReadAll(kDemo);
  ASSERT_EQ(frames.size(), 5u);
  const size_t bytes = 960 * 540 * 3;
  ASSERT_EQ(ref.size(), 5 * bytes);
  for (size_t i = 0; i < frames.size(); ++i) {
    ASSERT_EQ(frames[i].image.width, 960);
    ASSERT_EQ(frames[i].image.height, 540);
    EXPECT_EQ(0, std::memcmp(frames[i].image.bgr.data(), ref.data() + i * bytes, bytes))
        << "frame " << i << " differs from cv2.VideoCapture";
    EXPECT_NEAR(frames[i].pts_s, i / 5.0, 1e-9);
  }
}

TEST(VideoReader, DisplayRotationAppliedAsOpenCV) {
  ScratchDir dir;
  const std::string plain = MakeClip(dir, "plain.mp4", 96, 64, 5, 2);
  const std::string script = dir / "cv.py";
  std::ofstream(script) << "import cv2,sys\n"
                           "cap=cv2.VideoCapture(sys.argv[1])\n"
                           "out=open(sys.argv[2],'wb')\n"
                           "while True:\n"
                           "    ok,f=cap.read()\n"
                           "    if not ok: break\n"
                           "    out.write(f.tobytes())\n";
  for (int rotate : {90, 180, 270}) {
    // The rotation tag goes into the mp4 display matrix on a stream copy.
    const std::string rot = dir / ("rot" + std::to_string(rotate) + ".mp4");
    ASSERT_EQ(
        Shell(std::string(RTMO_FFMPEG) + " -nostdin -v error -i " + Quote(plain) +
              " -c copy -metadata:s:v:0 rotate=" + std::to_string(rotate) + " -y " + Quote(rot)),
        0);
    const std::string raw = dir / "cv.bgr";
    ASSERT_EQ(
        Shell(std::string(RTMO_PYTHON) + " " + Quote(script) + " " + Quote(rot) + " " + Quote(raw)),
        0);
    const std::string ref = Slurp(raw);
    VideoReader r = VideoReader::Open(rot);
    EXPECT_EQ(r.info().rotation, rotate);
    const bool swap = rotate != 180;
    EXPECT_EQ(r.info().width, swap ? 64 : 96);
    const std::vector<VideoFrame> frames = ReadAll(rot);
    ASSERT_EQ(frames.size(), 2u);
    ASSERT_EQ(ref.size(), 2u * 96 * 64 * 3);
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_EQ(frames[i].image.width, swap ? 64 : 96);
      EXPECT_EQ(0,
                std::memcmp(frames[i].image.bgr.data(), ref.data() + i * 96 * 64 * 3, 96 * 64 * 3))
          << "rotate " << rotate << " frame " << i << " differs from cv2.VideoCapture";
    }
    VideoReaderOptions o;
    o.auto_rotate = false;
    EXPECT_EQ(ReadAll(rot, o)[0].image.width, 96);
  }
}

TEST(VideoReader, StartSkipsEarlierFrames) {
  ScratchDir dir;
  const std::string clip = MakeClip(dir, "clip.mp4", 64, 48, 10, 10);
  VideoReaderOptions o;
  o.start_s = 0.45;
  const std::vector<VideoFrame> frames = ReadAll(clip, o);
  ASSERT_EQ(frames.size(), 5u);  // 0.5, 0.6, ... 0.9
  EXPECT_NEAR(frames[0].pts_s, 0.5, 1e-9);
  EXPECT_EQ(frames[0].index, 5);  // the position in the stream
}

TEST(VideoReader, MissingCorruptAndTruncatedFilesNameTheFile) {
  ScratchDir dir;
  const std::string missing = dir / "no_such.mp4";
  try {
    VideoReader::Open(missing);
    FAIL() << "opened a missing file";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
  }
  const std::string junk = dir / "junk.mp4";
  std::ofstream(junk) << std::string(5000, 'x');
  try {
    ReadAll(junk);
    FAIL() << "decoded junk";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(junk), std::string::npos) << e.what();
  }
  // The sample keeps its index at the end: cut, it cannot be opened at all.
  const std::string cut = dir / "cut.mp4";
  const std::string demo = Slurp(kDemo);
  std::ofstream(cut, std::ios::binary) << demo.substr(0, demo.size() / 2);
  try {
    ReadAll(cut);
    FAIL() << "read a truncated file";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(cut), std::string::npos) << e.what();
  }
}

TEST(VideoReader, TruncatedFaststartFileGivesTheFramesBeforeTheCut) {
  ScratchDir dir;
  const std::string clip = MakeClip(dir, "fs.mp4", 160, 120, 10, 40, "-movflags +faststart");
  const std::string data = Slurp(clip);
  const std::string cut = dir / "cut.mp4";
  std::ofstream(cut, std::ios::binary) << data.substr(0, data.size() * 6 / 10);
  VideoReader r = VideoReader::Open(cut);
  EXPECT_EQ(r.info().frame_count, 40);  // the header still lists them all
  VideoFrame f;
  int n = 0;
  try {
    while (r.Read(&f)) ++n;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(cut), std::string::npos) << e.what();
  }
  EXPECT_GT(n, 0);
  EXPECT_LT(n, 40);
}

// A frame with a smooth gradient and a moving square (lossy codecs keep it close).
Image Pattern(int w, int h, int t) {
  Image im;
  im.width = w;
  im.height = h;
  im.bgr.resize(static_cast<size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      uint8_t* p = &im.bgr[(static_cast<size_t>(y) * w + x) * 3];
      const bool square = x >= 4 * t && x < 4 * t + 24 && y >= 20 && y < 44;
      p[0] = static_cast<uint8_t>(square ? 230 : 40 + x);
      p[1] = static_cast<uint8_t>(square ? 30 : 60 + y);
      p[2] = static_cast<uint8_t>(square ? 30 : 128);
    }
  }
  return im;
}

double MeanAbsDiff(const Image& a, const Image& b) {
  double s = 0;
  for (size_t i = 0; i < a.bgr.size(); ++i) s += std::abs(int(a.bgr[i]) - int(b.bgr[i]));
  return s / a.bgr.size();
}

// Mean absolute error allowed after a lossy round trip: H.264 at crf 20 (and 4:2:0 chroma
// on the square's sharp colour edges) on these smooth patterns stays well under 3 grey
// levels on average; a wrong colour conversion (swapped channels, wrong matrix or range)
// gives tens.
constexpr double kRoundTripMeanAbs = 3.0;

TEST(VideoWriter, RoundTripThroughTheReader) {
  ScratchDir dir;
  for (const auto& [w, h] : std::vector<std::pair<int, int>>{{160, 96}, {161, 97}}) {
    const std::string out = dir / ("rt_" + std::to_string(w) + ".mp4");
    VideoWriterOptions o;
    o.width = w;
    o.height = h;
    o.fps_num = 30000;
    o.fps_den = 1001;
    {
      VideoWriter wr = VideoWriter::Open(out, o);
      EXPECT_EQ(wr.encoder_name(), "libx264");
      for (int t = 0; t < 10; ++t) wr.Write(Pattern(w, h, t));
      EXPECT_FALSE(std::filesystem::exists(out));  // only the temporary file so far
      wr.Close();
      EXPECT_TRUE(wr.temp_path().empty());
    }
    VideoReader r = VideoReader::Open(out);
    EXPECT_EQ(r.info().frame_count, 10);
    EXPECT_NEAR(r.info().fps, 30000.0 / 1001.0, 1e-9);
    VideoFrame f;
    int n = 0;
    while (r.Read(&f)) {
      ASSERT_EQ(f.image.width, w);
      ASSERT_EQ(f.image.height, h);
      EXPECT_NEAR(f.pts_s, n * 1001.0 / 30000.0, 1e-6);
      EXPECT_LT(MeanAbsDiff(f.image, Pattern(w, h, n)), kRoundTripMeanAbs) << "frame " << n;
      ++n;
    }
    EXPECT_EQ(n, 10);
  }
  // Only the two videos: no temporary file left behind.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 2);
}

TEST(VideoWriter, Mpeg4EncoderAndUnclosedWriterLeavesNothing) {
  ScratchDir dir;
  VideoWriterOptions o;
  o.width = 64;
  o.height = 48;
  o.encoder = "mpeg4";
  const std::string out = dir / "m.avi";
  {
    VideoWriter wr = VideoWriter::Open(out, o);
    wr.Write(Pattern(64, 48, 0));
    // destroyed without Close(): as if the run failed
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
  {
    VideoWriter wr = VideoWriter::Open(out, o);
    for (int t = 0; t < 3; ++t) wr.Write(Pattern(64, 48, t));
    wr.Close();
  }
  const std::vector<VideoFrame> frames = ReadAll(out);
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_LT(MeanAbsDiff(frames[2].image, Pattern(64, 48, 2)), 2 * kRoundTripMeanAbs);
}

TEST(VideoWriter, ErrorsNameThePath) {
  ScratchDir dir;
  VideoWriterOptions o;
  o.width = 64;
  o.height = 48;
  auto expect_error = [&](const std::string& path, auto&& fn) {
    try {
      fn();
      ADD_FAILURE() << "no error for " << path;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  };
  const std::string no_dir = dir / "missing/out.mp4";
  expect_error(no_dir, [&] { VideoWriter::Open(no_dir, o); });
  const std::string bad_ext = dir / "out.notavideo";
  expect_error(bad_ext, [&] { VideoWriter::Open(bad_ext, o); });
  const std::string ok = dir / "ok.mp4";
  VideoWriter wr = VideoWriter::Open(ok, o);
  expect_error(ok, [&] { wr.Write(Pattern(32, 48, 0)); });  // wrong size
}

}  // namespace
}  // namespace rtmo
