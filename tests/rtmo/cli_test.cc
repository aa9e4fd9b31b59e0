// Tests of the `rtmo` command's parts without a model (labels rtmo, sanitize): argument
// parsing, input discovery, atomic output, JSON / COCO documents, drawing, and the batch
// loop with a fake predictor (bad input in the middle of a batch, pixel limit, outputs).
// The end-to-end runs of the real binary with a model are in cli_e2e_test.py (golden).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "rtmo/cli/args.h"
#include "rtmo/cli/files.h"
#include "rtmo/cli/progress.h"
#include "rtmo/cli/report.h"
#include "rtmo/cli/run.h"
#include "rtmo/error.h"
#include "rtmo/io/image.h"
#include "tests/rtmo/image_util.h"

namespace rtmo::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;  // keeps key order, to check it

const std::string kData = RTMO_TEST_DATA_DIR;  // tests/data

// A fresh temporary directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string t = (fs::temp_directory_path() / "rtmo_cli_test_XXXXXX").native();
    if (!mkdtemp(t.data())) throw std::runtime_error("mkdtemp failed");
    path_ = t;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return (path_ / name).native(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void WriteBytes(const std::string& path, const std::string& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

std::vector<std::string> Files(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().native());
  std::sort(out.begin(), out.end());
  return out;
}

// ---------------------------------------------------------------- arguments

TEST(CliArgs, Defaults) {
  const Options o = ParseArgs({"a.jpg"});
  EXPECT_EQ(o.inputs, std::vector<std::string>{"a.jpg"});
  EXPECT_EQ(o.model, "rtmo-s");  // a model name (rtmo::ResolveModel)
  EXPECT_FALSE(o.model_given);
  EXPECT_TRUE(ParseArgs({"--model", "x.pth", "a.jpg"}).model_given);
  EXPECT_FLOAT_EQ(o.score_thr, 0.1f);
  EXPECT_FLOAT_EQ(o.nms_thr, 0.65f);
  EXPECT_FLOAT_EQ(o.kpt_thr, 0.3f);
  EXPECT_EQ(o.threads, 0);
  EXPECT_EQ(o.max_pixels, 0u);
  EXPECT_FALSE(o.quiet);
  EXPECT_TRUE(o.json_path.empty() && o.draw_dir.empty() && o.dump_dir.empty());
}

TEST(CliArgs, AllOptionsBothSpellings) {
  const Options o = ParseArgs({"--model",
                               "m.rtmo",
                               "--json=o.json",
                               "--coco-results",
                               "r.json",
                               "--coco-ann=a.json",
                               "--draw",
                               "d",
                               "--dump",
                               "u",
                               "--score-thr",
                               "0.25",
                               "--nms-thr=0.5",
                               "--kpt-thr",
                               "0.4",
                               "--threads",
                               "3",
                               "--max-pixels=1000",
                               "-q",
                               "--title",
                               "T t",
                               "x.png",
                               "dir"});
  EXPECT_EQ(o.model, "m.rtmo");
  EXPECT_EQ(o.json_path, "o.json");
  EXPECT_EQ(o.coco_results_path, "r.json");
  EXPECT_EQ(o.coco_ann_path, "a.json");
  EXPECT_EQ(o.draw_dir, "d");
  EXPECT_EQ(o.dump_dir, "u");
  EXPECT_FLOAT_EQ(o.score_thr, 0.25f);
  EXPECT_FLOAT_EQ(o.nms_thr, 0.5f);
  EXPECT_FLOAT_EQ(o.kpt_thr, 0.4f);
  EXPECT_EQ(o.threads, 3);
  EXPECT_EQ(o.max_pixels, 1000u);
  EXPECT_TRUE(o.quiet);
  EXPECT_EQ(o.title, "T t");
  EXPECT_EQ(o.inputs, (std::vector<std::string>{"x.png", "dir"}));
}

TEST(CliArgs, DoubleDashEndsOptions) {
  const Options o = ParseArgs({"--quiet", "--", "--weird-name.jpg", "-"});
  EXPECT_EQ(o.inputs, (std::vector<std::string>{"--weird-name.jpg", "-"}));
}

TEST(CliArgs, HelpAndVersionNeedNoInput) {
  EXPECT_TRUE(ParseArgs({"--help"}).help);
  EXPECT_TRUE(ParseArgs({"-h"}).help);
  EXPECT_TRUE(ParseArgs({"--version"}).version);
  EXPECT_NE(UsageText().find("usage: rtmo"), std::string::npos);
  EXPECT_NE(UsageText().find("--coco-results"), std::string::npos);
}

// Each malformed command line -> UsageError whose message names the problem.
TEST(CliArgs, Malformed) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--bogus", "a.jpg"}, "unknown option '--bogus'"},
      {{"-x", "a.jpg"}, "unknown option '-x'"},
      {{"a.jpg", "--json"}, "--json needs a value"},
      {{"--json="}, "--json needs a non-empty value"},
      {{"--score-thr", "abc", "a.jpg"}, "--score-thr: expected a number"},
      {{"--score-thr", "1.5", "a.jpg"}, "--score-thr: expected a number"},
      {{"--nms-thr", "nan", "a.jpg"}, "--nms-thr: expected a number"},
      {{"--threads", "0", "a.jpg"}, "--threads: expected an integer"},
      {{"--threads", "2x", "a.jpg"}, "--threads: expected an integer"},
      {{"--max-pixels", "-5", "a.jpg"}, "--max-pixels: expected an integer"},
      {{"--quiet=1", "a.jpg"}, "--quiet takes no value"},
      {{}, "no INPUT given"},
      {{"--json", "o.json"}, "no INPUT given"},
      {{"--coco-ann", "a.json", "x.jpg"}, "--coco-ann only makes sense with --coco-results"},
      {{"--draw", "out.png", "x.jpg"}, "--draw takes a directory"},
      {{"--dump", "d/out.JPG", "x.jpg"}, "--dump takes a directory"},
  };
  for (const auto& [args, want] : cases) {
    try {
      ParseArgs(args);
      ADD_FAILURE() << "no UsageError for case expecting: " << want;
    } catch (const UsageError& e) {
      EXPECT_NE(e.message.find(want), std::string::npos) << e.message << " vs " << want;
    }
  }
}

// ---------------------------------------------------------------- inputs

TEST(CliFiles, ImageExtensions) {
  for (const char* p : {"a.jpg", "a.JPG", "b/c.jpeg", "x.Png", "y.bmp", "./z.PNG"}) {
    EXPECT_TRUE(HasImageExtension(p)) << p;
  }
  for (const char* p : {"a.txt", "jpg", "a.jpg.bak", "dir.jpg/file", "a.gif", "a.", ".png/x"}) {
    EXPECT_FALSE(HasImageExtension(p)) << p;
  }
}

TEST(CliFiles, CollectInputsRecursiveSortedFiltered) {
  TempDir t;
  for (const char* f : {"b.png", "a.jpg", "notes.txt", "sub/z.JPEG", "sub/deeper/c.bmp",
                        "sub/readme.md", "A.png", "sub2/x.gif"}) {
    WriteBytes(t / f, "x");
  }
  fs::create_directories(t / "empty");
  std::vector<std::string> errors;
  const auto got = CollectInputs({t.path().native()}, &errors);
  EXPECT_TRUE(errors.empty());
  std::vector<std::string> paths;
  for (const auto& in : got) paths.push_back(in.path);
  const std::vector<std::string> want = {t / "A.png", t / "a.jpg", t / "b.png",
                                         t / "sub/deeper/c.bmp", t / "sub/z.JPEG"};
  EXPECT_EQ(paths, want);
}

TEST(CliFiles, CollectInputsArgumentOrderFilesAndMissing) {
  TempDir t;
  WriteBytes(t / "d/2.png", "x");
  WriteBytes(t / "d/1.png", "x");
  WriteBytes(t / "plain.txt", "x");  // named explicitly: kept, the decoder will judge it
  std::vector<std::string> errors;
  const auto got = CollectInputs({t / "plain.txt", t / "missing.jpg", t / "d"}, &errors);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].path, t / "plain.txt");
  EXPECT_EQ(got[1].path, (t.path() / "d" / "1.png").native());
  EXPECT_EQ(got[2].path, (t.path() / "d" / "2.png").native());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find(t / "missing.jpg"), std::string::npos);
  EXPECT_NE(errors[0].find("no such file"), std::string::npos);
}

TEST(CliFiles, UniqueStems) {
  const std::vector<InputFile> in = {{"a/x.jpg"}, {"b/x.png"}, {"y.png"}, {"c/x.bmp"}, {"x_2.png"}};
  const auto s = UniqueStems(in);
  EXPECT_EQ(s, (std::vector<std::string>{"x", "x_2", "y", "x_3", "x_2_2"}));
  EXPECT_EQ(std::set<std::string>(s.begin(), s.end()).size(), s.size());
}

// ---------------------------------------------------------------- atomic output

TEST(CliFiles, WriteFileAtomicWritesAndReplaces) {
  TempDir t;
  WriteFileAtomic(t / "o.json", "first");
  EXPECT_EQ(ReadFile(t / "o.json"), "first");
  WriteFileAtomic(t / "o.json", "second, longer");
  EXPECT_EQ(ReadFile(t / "o.json"), "second, longer");
  EXPECT_EQ(Files(t.path()), std::vector<std::string>{"o.json"});  // no temp file left
  // mkstemp's 0600 is widened to what a plain open() would give: 0666 & ~umask.
  const mode_t mask = umask(022);
  umask(mask);
  struct stat st;
  ASSERT_EQ(stat((t / "o.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0666 & ~mask);
}

TEST(CliFiles, WriteFileAtomicFailureLeavesNoPartialFile) {
  TempDir t;
  // Target is a directory: the rename fails after the data was written to the temp file.
  fs::create_directories(t / "out.json");
  WriteBytes(t / "out.json/keep", "old");
  EXPECT_THROW(WriteFileAtomic(t / "out.json", std::string(1 << 20, 'x')), Error);
  EXPECT_EQ(Files(t.path()), std::vector<std::string>{"out.json"});
  EXPECT_EQ(ReadFile(t / "out.json/keep"), "old");
  // Missing directory: error naming the path.
  try {
    WriteFileAtomic(t / "nodir/o.json", "x");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(t / "nodir/o.json"), std::string::npos);
  }
}

// ---------------------------------------------------------------- documents

Person MakePerson(float x0, float y0, float score) {
  Person p;
  p.bbox = {x0, y0, x0 + 40, y0 + 90};
  p.score = score;
  for (int k = 0; k < 17; ++k) p.keypoints.push_back({x0 + 2.0f * k, y0 + 5.0f * k, 0.05f * k});
  return p;
}

TEST(CliReport, PredictionsJsonSchema) {
  std::vector<ImageResult> ims = {{"a/1.jpg", 640, 480, {MakePerson(10, 20, 0.9f)}},
                                  {"b.png", 32, 16, {}}};
  const json doc = json::parse(PredictionsJson("m.rtmo", ims, {{"bad.jpg", "bad.jpg: broken"}}));
  EXPECT_EQ(doc["model"], "m.rtmo");
  ASSERT_EQ(doc["images"].size(), 2u);
  const json& r = doc["images"][0];
  std::vector<std::string> keys;
  for (auto it = r.begin(); it != r.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"file", "width", "height", "people"}));
  EXPECT_EQ(r["file"], "a/1.jpg");
  EXPECT_EQ(r["width"], 640);
  EXPECT_EQ(r["height"], 480);
  ASSERT_EQ(r["people"].size(), 1u);
  const json& p = r["people"][0];
  EXPECT_EQ(p.size(), 3u);
  ASSERT_EQ(p["bbox"].size(), 4u);
  EXPECT_FLOAT_EQ(p["bbox"][2].get<float>(), 50.0f);
  EXPECT_FLOAT_EQ(p["score"].get<float>(), 0.9f);
  ASSERT_EQ(p["keypoints"].size(), 17u);
  EXPECT_EQ(p["keypoints"][16].size(), 3u);
  EXPECT_FLOAT_EQ(p["keypoints"][16][0].get<float>(), 42.0f);
  EXPECT_FLOAT_EQ(p["keypoints"][16][1].get<float>(), 100.0f);
  EXPECT_FLOAT_EQ(p["keypoints"][16][2].get<float>(), 0.8f);
  EXPECT_TRUE(doc["images"][1]["people"].is_array());
  EXPECT_TRUE(doc["images"][1]["people"].empty());
  ASSERT_EQ(doc["errors"].size(), 1u);
  EXPECT_EQ(doc["errors"][0]["file"], "bad.jpg");
}

TEST(CliReport, CocoResults) {
  std::vector<ImageResult> ims = {
      {"x/000000000785.jpg", 640, 425, {MakePerson(10, 20, 0.9f), MakePerson(100, 5, 0.4f)}},
      {"y.png", 10, 10, {}}};
  const json doc = json::parse(CocoResultsJson(ims, {785, 7}));
  ASSERT_TRUE(doc.is_array());
  ASSERT_EQ(doc.size(), 2u);
  for (const json& r : doc) {
    EXPECT_EQ(r["image_id"], 785);
    EXPECT_EQ(r["category_id"], 1);
    ASSERT_EQ(r["keypoints"].size(), 51u);
    EXPECT_EQ(r["bbox"].size(), 4u);
  }
  EXPECT_FLOAT_EQ(doc[1]["score"].get<float>(), 0.4f);           // the instance score, not rescored
  EXPECT_FLOAT_EQ(doc[1]["keypoints"][3].get<float>(), 102.0f);  // x of keypoint 1
  EXPECT_FLOAT_EQ(doc[1]["keypoints"][5].get<float>(), 0.05f);   // score of keypoint 1
  EXPECT_FLOAT_EQ(doc[1]["bbox"][2].get<float>(), 40.0f);        // xywh
}

TEST(CliReport, CocoImageIds) {
  const auto ids = LoadCocoImageIds(kData + "/coco/test_coco.json");
  EXPECT_EQ(ids.size(), 4u);
  EXPECT_EQ(ids.at("000000000785.jpg"), 785);
  EXPECT_EQ(CocoImageId("any/dir/000000000785.jpg", &ids), 785);
  EXPECT_THROW(CocoImageId("000000000785.png", &ids), Error);  // not in the annotation
  EXPECT_EQ(CocoImageId("d/000000040083.png", nullptr), 40083);
  try {
    CocoImageId("d/person.jpg", nullptr);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("d/person.jpg"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("--coco-ann"), std::string::npos);
  }
}

TEST(CliReport, CocoAnnotationErrorsNameTheField) {
  TempDir t;
  WriteBytes(t / "a.json", R"({"images": [{"file_name": "x.jpg", "id": "7"}]})");
  try {
    LoadCocoImageIds(t / "a.json");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("images[0].id"), std::string::npos) << e.what();
  }
  WriteBytes(t / "b.json", "{not json");
  EXPECT_THROW(LoadCocoImageIds(t / "b.json"), Error);
  EXPECT_THROW(LoadCocoImageIds(t / "missing.json"), Error);
}

// ---------------------------------------------------------------- drawing

using rtmo::testing::Grey;
using rtmo::testing::PixelRgb;

// ---------------------------------------------------------------- progress

TEST(CliProgress, Render) {
  EXPECT_EQ(Progress::Render(5, 10, 2.0, 10), "[#####.....] 5/10  2.5 img/s  ETA 0:02");
  EXPECT_EQ(Progress::Render(0, 3, 0.0, 4), "[....] 0/3  0.0 img/s  ETA --:--");
  EXPECT_EQ(Progress::Render(1, 7201, 1.0, 2), "[..] 1/7201  1.0 img/s  ETA 2:00:00");
}

// ---------------------------------------------------------------- the batch loop

// A fake model: one person whose box is the image's centre quarter, keypoints on a line.
std::vector<Person> FakePredict(const Image& im, const PredictOptions& po, int* calls) {
  ++*calls;
  Person p;
  const float w = static_cast<float>(im.width), h = static_cast<float>(im.height);
  p.bbox = {w / 4, h / 4, 3 * w / 4, 3 * h / 4};
  p.score = 0.75f;
  for (int k = 0; k < 17; ++k) p.keypoints.push_back({w / 4 + k * w / 34, h / 2, 0.9f});
  if (!po.dump_dir.empty()) WriteBytes(po.dump_dir + "/marker", "dumped");
  return {p};
}

struct Captured {
  std::FILE* f = std::tmpfile();
  ~Captured() { std::fclose(f); }
  std::string Text() {
    std::fflush(f);
    std::rewind(f);
    std::string s;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) s.append(buf, n);
    return s;
  }
};

TEST(CliRun, BadInputsInTheMiddleAreNamedOthersProcessedExitNonZero) {
  TempDir t;
  const std::string png = ReadFile(kData + "/coco/000000000785.png");
  const std::string jpg = ReadFile(kData + "/coco/000000040083.jpg");
  WriteBytes(t / "in/a_good.png", png);
  WriteBytes(t / "in/b_truncated.jpg", jpg.substr(0, jpg.size() / 3));
  WriteBytes(t / "in/c_text.png", "this is not an image\n");
  WriteBytes(t / "in/d_empty.bmp", "");
  WriteBytes(t / "in/e_good.jpg", jpg);
  Options o;
  o.inputs = {t / "in", t / "missing.png"};
  o.json_path = t / "out.json";
  o.draw_dir = t / "drawn";
  o.dump_dir = t / "dump";
  int calls = 0;
  RunStats stats;
  Captured err;
  const int rc = RunPredictions(
      o, "fake",
      [&](const Image& im, const PredictOptions& po) { return FakePredict(im, po, &calls); },
      &stats, err.f);
  const std::string msg = err.Text();
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(stats.images, 2);
  EXPECT_EQ(stats.failed, 4);
  EXPECT_EQ(stats.people, 2);
  for (const char* bad : {"b_truncated.jpg", "c_text.png", "d_empty.bmp", "missing.png"}) {
    EXPECT_NE(msg.find(bad), std::string::npos) << bad << " not named in:\n" << msg;
  }
  EXPECT_NE(msg.find("2 images, 2 people"), std::string::npos) << msg;
  EXPECT_NE(msg.find("4 inputs FAILED"), std::string::npos) << msg;

  const json doc = json::parse(ReadFile(t / "out.json"));
  ASSERT_EQ(doc["images"].size(), 2u);
  EXPECT_EQ(doc["images"][0]["file"], t / "in/a_good.png");
  EXPECT_EQ(doc["images"][0]["width"], 640);
  EXPECT_EQ(doc["images"][0]["height"], 425);
  EXPECT_EQ(doc["images"][1]["file"], t / "in/e_good.jpg");
  EXPECT_EQ(doc["errors"].size(), 4u);
  // Drawings: one per good image, lossless stays PNG, same size as the input.
  EXPECT_EQ(Files(t / "drawn"), (std::vector<std::string>{"a_good.png", "e_good.jpg"}));
  const Image drawn = LoadImage(t / "drawn/a_good.png");
  EXPECT_EQ(drawn.width, 640);
  EXPECT_EQ(drawn.height, 425);
  // Keypoint 0 (nose, blue) at (w/4, h/2) = (160, 212.5): the drawn pixel is blue.
  EXPECT_EQ(PixelRgb(drawn, 160, 212), (std::array<uint8_t, 3>{51, 153, 255}));  // mmpose coco.py
  EXPECT_EQ(ReadFile(t / "dump/a_good/marker"), "dumped");
}

TEST(CliRun, PixelLimitRefusesBeforePredicting) {
  TempDir t;
  WriteBytes(t / "big.png", ReadFile(kData + "/coco/000000000785.png"));  // 640 x 425
  Options o;
  o.inputs = {t / "big.png"};
  o.max_pixels = 640 * 424;
  o.quiet = true;
  int calls = 0;
  RunStats stats;
  Captured err;
  const int rc = RunPredictions(
      o, "fake",
      [&](const Image& im, const PredictOptions& po) { return FakePredict(im, po, &calls); },
      &stats, err.f);
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(calls, 0);
  EXPECT_NE(err.Text().find("big.png"), std::string::npos);
  o.max_pixels = 640 * 425;  // exactly at the limit: accepted
  EXPECT_EQ(
      RunPredictions(
          o, "fake",
          [&](const Image& im, const PredictOptions& po) { return FakePredict(im, po, &calls); },
          &stats, err.f),
      0);
  EXPECT_EQ(calls, 1);
}

TEST(CliRun, CocoResultsIdsFromAnnotationAndUpFrontChecks) {
  TempDir t;
  for (const char* stem : {"000000000785", "000000040083"}) {
    WriteBytes(t / (std::string("in/") + stem + ".jpg"),
               ReadFile(kData + "/coco/" + stem + ".jpg"));
  }
  Options o;
  o.inputs = {t / "in"};
  o.coco_results_path = t / "res.json";
  o.coco_ann_path = kData + "/coco/test_coco.json";
  o.quiet = true;
  int calls = 0;
  RunStats stats;
  Captured err;
  auto fake = [&](const Image& im, const PredictOptions& po) {
    return FakePredict(im, po, &calls);
  };
  ASSERT_EQ(RunPredictions(o, "fake", fake, &stats, err.f), 0) << err.Text();
  const json res = json::parse(ReadFile(t / "res.json"));
  ASSERT_EQ(res.size(), 2u);
  EXPECT_EQ(res[0]["image_id"], 785);
  EXPECT_EQ(res[1]["image_id"], 40083);

  // A file the annotation does not know: refused before any image is processed, and the
  // previous results file is left as it was.
  WriteBytes(t / "in/zz_other.jpg", ReadFile(kData + "/coco/000000196141.jpg"));
  calls = 0;
  EXPECT_EQ(RunPredictions(o, "fake", fake, &stats, err.f), 1);
  EXPECT_EQ(calls, 0);
  EXPECT_NE(err.Text().find("zz_other.jpg"), std::string::npos);
  EXPECT_EQ(json::parse(ReadFile(t / "res.json")), res);

  // Without --coco-ann, non-numeric names are refused up front too.
  o.coco_ann_path.clear();
  EXPECT_EQ(RunPredictions(o, "fake", fake, &stats, err.f), 1);
  EXPECT_EQ(calls, 0);

  // An output directory that does not exist: refused before any work.
  o.coco_results_path.clear();
  o.json_path = t / "no/such/dir/out.json";
  EXPECT_EQ(RunPredictions(o, "fake", fake, &stats, err.f), 1);
  EXPECT_EQ(calls, 0);
}

TEST(CliRun, ThresholdsReachThePredictor) {
  TempDir t;
  WriteBytes(t / "a.png", ReadFile(kData + "/coco/000000000785.png"));
  Options o = ParseArgs({"--score-thr", "0.3", "--nms-thr", "0.4", "-q", t / "a.png"});
  PredictOptions seen;
  RunStats stats;
  Captured err;
  EXPECT_EQ(RunPredictions(
                o, "fake",
                [&](const Image&, const PredictOptions& po) {
                  seen = po;
                  return std::vector<Person>{};
                },
                &stats, err.f),
            0);
  ASSERT_TRUE(seen.score_thr.has_value() && seen.nms_thr.has_value());
  EXPECT_FLOAT_EQ(static_cast<float>(*seen.score_thr), 0.3f);
  EXPECT_FLOAT_EQ(static_cast<float>(*seen.nms_thr), 0.4f);
  EXPECT_TRUE(seen.dump_dir.empty());
  EXPECT_TRUE(err.Text().empty());  // --quiet: nothing on stderr when all went well
}

// ---------------------------------------------------------------- never destroy a file
// (issue 14): every refusal happens before the first image, names the paths, and leaves
// every input byte-identical.

// Contents of every regular file under `dir` (path -> bytes): compared before and after.
std::map<std::string, std::string> Snapshot(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out[e.path().native()] = ReadFile(e.path().native());
  }
  return out;
}

struct RunOutcome {
  int rc = -1;
  int calls = 0;
  std::string err;
};
RunOutcome RunWith(const std::vector<std::string>& args) {
  RunOutcome r;
  const Options o = ParseArgs(args);
  RunStats stats;
  Captured err;
  r.rc = RunPredictions(
      o, "fake",
      [&](const Image& im, const PredictOptions& po) { return FakePredict(im, po, &r.calls); },
      &stats, err.f);
  r.err = err.Text();
  return r;
}

// Two photos in t/ow/: a.jpg and b.png.
void TwoPhotos(const TempDir& t) {
  WriteBytes(t / "ow/a.jpg", ReadFile(kData + "/coco/000000040083.jpg"));
  WriteBytes(t / "ow/b.png", ReadFile(kData + "/coco/000000000785.png"));
}

TEST(CliSafety, JsonValueThatIsAnImageIsRefused) {
  TempDir t;
  TwoPhotos(t);
  const auto before = Snapshot(t.path());
  // The slip of the issue: the first photo taken as the value of --json.
  RunOutcome r = RunWith({"-q", "--json", t / "ow/a.jpg", t / "ow/b.png"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.calls, 0);
  EXPECT_NE(r.err.find("--json '" + t / "ow/a.jpg" +
                       "': expected a .json file name, found an image file name"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("(nothing was processed)"), std::string::npos) << r.err;
  // The output is literally an input (also through another spelling of the path).
  r = RunWith({"-q", "--coco-results", t / "ow/../ow/b.png", t / "ow/b.png"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.calls, 0);
  EXPECT_NE(r.err.find("is the input image '" + t / "ow/b.png" + "'"), std::string::npos) << r.err;
  // Even with --overwrite.
  r = RunWith({"-q", "--overwrite", "--json", t / "ow/a.jpg", t / "ow/a.jpg"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.calls, 0);
  EXPECT_EQ(Snapshot(t.path()), before);
}

TEST(CliSafety, DrawingsNeverReplaceInputs) {
  TempDir t;
  TwoPhotos(t);
  const auto before = Snapshot(t.path());
  // --draw ow ow/b.png: the drawing of b.png would be ow/b.png itself.
  RunOutcome r = RunWith({"-q", "--draw", t / "ow", t / "ow/b.png"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.calls, 0);
  EXPECT_NE(r.err.find("the drawing of '" + t / "ow/b.png" + "' would be '" + t / "ow/b.png" +
                       "', which is the input"),
            std::string::npos)
      << r.err;
  // The draw directory is the input directory: it is not searched, so nothing to do.
  r = RunWith({"-q", "--draw", t / "ow", t / "ow"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.calls, 0);
  EXPECT_NE(r.err.find(t / "ow" + ": is the --draw or --dump output directory"), std::string::npos)
      << r.err;
  EXPECT_EQ(Snapshot(t.path()), before);
}

TEST(CliSafety, DrawDirectoryInsideTheInputsIsNotSearchedAndRerunsReplaceOwnDrawings) {
  TempDir t;
  TwoPhotos(t);
  const auto inputs = Snapshot(t / "ow");
  for (int run = 0; run < 2; ++run) {
    const RunOutcome r =
        RunWith({"-q", "--draw", t / "ow/drawn", "--json", t / "out.json", t / "ow"});
    EXPECT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(r.calls, 2) << "run " << run;  // never its own drawings
    EXPECT_EQ(json::parse(ReadFile(t / "out.json"))["images"].size(), 2u);
  }
  EXPECT_EQ(Files(t / "ow/drawn"), (std::vector<std::string>{"a.jpg", "b.png"}));
  EXPECT_EQ(ClassifyExisting(t / "ow/drawn/a.jpg"), ExistingKind::kOurDrawing);
  EXPECT_EQ(ClassifyExisting(t / "ow/drawn/b.png"), ExistingKind::kOurDrawing);
  for (const auto& [path, bytes] : inputs) {
    if (path.find("/drawn/") == std::string::npos) {
      EXPECT_EQ(ReadFile(path), bytes) << path;
    }
  }
}

TEST(CliSafety, ExistingFilesThatAreNotOursNeedOverwrite) {
  TempDir t;
  TwoPhotos(t);
  WriteBytes(t / "drawn/a.jpg", "my holiday photo");  // a user's file where a drawing goes
  WriteBytes(t / "notes.json", "{\"my\": \"notes\"}");
  const auto before = Snapshot(t.path());
  RunOutcome r = RunWith({"-q", "--draw", t / "drawn", t / "ow"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.calls, 0);
  EXPECT_NE(r.err.find("would replace '" + t / "drawn/a.jpg" +
                       "', an existing file that is not an rtmo drawing; pass --overwrite"),
            std::string::npos)
      << r.err;
  r = RunWith({"-q", "--json", t / "notes.json", t / "ow"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.calls, 0);
  EXPECT_NE(r.err.find("--json '" + t / "notes.json" +
                       "' exists and is not an rtmo JSON output: refusing to replace it; pass "
                       "--overwrite"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(Snapshot(t.path()), before);
  // --overwrite: replaced (inputs still untouched).
  r = RunWith({"-q", "--overwrite", "--draw", t / "drawn", "--json", t / "notes.json", t / "ow"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(ClassifyExisting(t / "drawn/a.jpg"), ExistingKind::kOurDrawing);
  EXPECT_EQ(ClassifyExisting(t / "notes.json"), ExistingKind::kOurJson);
  EXPECT_EQ(ReadFile(t / "ow/a.jpg"), before.at(t / "ow/a.jpg"));
  // Our own outputs are replaced without --overwrite; a COCO file is recognised too.
  r = RunWith({"-q", "--json", t / "notes.json", "--coco-results", t / "c.json", "--draw",
               t / "drawn", t / "ow/b.png"});
  EXPECT_EQ(r.rc, 1) << r.err;  // b.png has no numeric COCO id: refused up front
  EXPECT_NE(r.err.find("no COCO image id"), std::string::npos) << r.err;
  WriteBytes(t / "c.json", "[\n]\n");
  EXPECT_EQ(ClassifyExisting(t / "c.json"), ExistingKind::kOurCoco);
  r = RunWith({"-q", "--json", t / "notes.json", "--draw", t / "drawn", t / "ow/b.png"});
  EXPECT_EQ(r.rc, 0) << r.err;
}

TEST(CliSafety, OutputDestinationsAreCheckedBeforeAnyImage) {
  TempDir t;
  TwoPhotos(t);
  fs::create_directories(t / "outdir");
  RunOutcome r = RunWith({"-q", "--json", t / "outdir", t / "ow"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.calls, 0);
  EXPECT_NE(r.err.find("--json '" + t / "outdir" + "' is a directory: expected a file name"),
            std::string::npos)
      << r.err;
  r = RunWith({"-q", "--json", "/proc/x.json", t / "ow"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.calls, 0);
  EXPECT_NE(r.err.find("/proc/x.json: cannot create a temporary file in '/proc'"),
            std::string::npos)
      << r.err;
  r = RunWith({"-q", "--draw", "/proc/drawn", t / "ow"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.calls, 0);
  EXPECT_NE(r.err.find("/proc/drawn"), std::string::npos) << r.err;
  r = RunWith({"-q", "--json", t / "r.json", "--coco-results", t / "./r.json", t / "ow"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("are the same file"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(t / "r.json"));
  // Nothing but the inputs and the empty directory: no temp file left anywhere.
  EXPECT_EQ(Files(t.path()), (std::vector<std::string>{"outdir", "ow"}));
  EXPECT_EQ(Files(t / "ow"), (std::vector<std::string>{"a.jpg", "b.png"}));
}

TEST(CliSafety, ClearMessagesForEmptyDirectoriesAndVideos) {
  TempDir t;
  fs::create_directories(t / "empty");
  // A minimal MP4 header: size, "ftyp", brand.
  WriteBytes(t / "clip.mp4", std::string("\0\0\0\x18"
                                         "ftypisom\0\0\0\0isomiso2",
                                         24));
  RunOutcome r = RunWith({"-q", t / "empty"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find(t / "empty" + ": no images in this directory (searched recursively for"),
            std::string::npos)
      << r.err;
  // (A video INPUT given alone goes to the video command, main.cc/run.cc; mixed with
  // images, discovery names it.)
  std::vector<std::string> errors;
  EXPECT_TRUE(CollectInputs({t / "clip.mp4"}, &errors).empty());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find(t / "clip.mp4" + ": a video file (MP4/QuickTime)"), std::string::npos)
      << errors[0];
  EXPECT_EQ(VideoContainerName(std::string("\x1A\x45\xDF\xA3", 4)), "Matroska/WebM");
  EXPECT_EQ(VideoContainerName(std::string("RIFF\x10\0\0\0AVI LIST", 16)), "AVI");
  EXPECT_EQ(VideoContainerName(std::string("RIFF\x10\0\0\0WEBPVP8 ", 16)), "");
  EXPECT_EQ(VideoContainerName("\x89PNG\r\n\x1a\n...."), "");
}

TEST(CliSafety, MarkedDrawingsStillDecodeAndAreRecognised) {
  Image im;
  im.width = 7;
  im.height = 5;
  im.bgr.assign(7 * 5 * 3, 100);
  for (const char* fmt : {"png", "jpg"}) {
    const std::vector<uint8_t> plain = EncodeImage(im, fmt);
    const std::vector<uint8_t> marked = MarkDrawing(plain, fmt);
    EXPECT_EQ(marked.size(), plain.size() + (std::string(fmt) == "png" ? 12 + 9 + 16 : 4 + 16));
    const Image a = DecodeImage(plain.data(), plain.size(), "plain", 1 << 20);
    const Image b = DecodeImage(marked.data(), marked.size(), "marked", 1 << 20);
    EXPECT_EQ(a.width, b.width);
    EXPECT_EQ(a.bgr, b.bgr) << fmt;  // the marker is metadata only
    TempDir t;
    WriteBytes(t / "plain", std::string(plain.begin(), plain.end()));
    WriteBytes(t / "marked", std::string(marked.begin(), marked.end()));
    EXPECT_EQ(ClassifyExisting(t / "plain"), ExistingKind::kOther) << fmt;
    EXPECT_EQ(ClassifyExisting(t / "marked"), ExistingKind::kOurDrawing) << fmt;
  }
}

TEST(CliSafety, JsonAndCocoToStandardOutput) {
  TempDir t;
  TwoPhotos(t);
  // Redirect fd 1 to a file for the duration of the run.
  std::fflush(stdout);
  const int saved = dup(1);
  const int fd = ::open((t / "stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  dup2(fd, 1);
  close(fd);
  const RunOutcome r = RunWith({"-q", "--json", "-", t / "ow"});
  std::fflush(stdout);
  dup2(saved, 1);
  close(saved);
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_FALSE(fs::exists("-"));
  const json doc = json::parse(ReadFile(t / "stdout"));
  EXPECT_EQ(doc["images"].size(), 2u);
  EXPECT_EQ(doc["interrupted"], false);
  EXPECT_THROW(ParseArgs({"--json", "-", "--coco-results", "-", "x.jpg"}), UsageError);
}

// SIGINT between images: the images done so far are in the outputs, marked interrupted;
// no temp file is left; the status is 128 + SIGINT.
TEST(CliSafety, InterruptKeepsCompletedImagesAndExits130) {
  TempDir t;
  for (int i = 0; i < 4; ++i) {
    WriteBytes(t / ("in/" + std::to_string(i) + ".png"),
               ReadFile(kData + "/coco/000000000785.png"));
  }
  Options o = ParseArgs({"-q", "--json", t / "out.json", "--draw", t / "drawn", t / "in"});
  int calls = 0;
  RunStats stats;
  Captured err;
  const int rc = RunPredictions(
      o, "fake",
      [&](const Image& im, const PredictOptions& po) {
        if (calls == 1) SetStopSignal(SIGINT);  // arrives during the second image
        return FakePredict(im, po, &calls);
      },
      &stats, err.f);
  SetStopSignal(0);
  EXPECT_EQ(rc, 130);
  EXPECT_EQ(calls, 2);
  const std::string msg = err.Text();
  EXPECT_NE(msg.find("rtmo: interrupted by SIGINT after 2 of 4 images"), std::string::npos) << msg;
  const json doc = json::parse(ReadFile(t / "out.json"));
  EXPECT_EQ(doc["interrupted"], true);
  ASSERT_EQ(doc["images"].size(), 2u);
  EXPECT_EQ(doc["images"][1]["file"], t / "in/1.png");
  EXPECT_EQ(Files(t / "drawn").size(), 2u);
  EXPECT_EQ(Files(t.path()), (std::vector<std::string>{"drawn", "in", "out.json"}));
}

}  // namespace
}  // namespace rtmo::cli
