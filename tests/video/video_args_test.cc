// The video options of the `rtmo` command line and the video-input test (no FFmpeg needed).
#include "rtmo/cli/video_args.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "rtmo/cli/args.h"
#include "rtmo/cli/video_cmd.h"

namespace rtmo::cli {
namespace {

TEST(VideoArgs, ParsesEveryOption) {
  const Options o =
      ParseArgs({"--track", "--every", "3", "--start=1.5", "--duration", "2", "--draw-video",
                 "out.mp4", "--track-high", "0.6", "--track-low", "0.2", "--track-match", "0.4",
                 "--track-iou-weight", "1", "--track-max-age", "7", "clip.mp4"});
  EXPECT_TRUE(o.video.track);
  EXPECT_EQ(o.video.every, 3);
  EXPECT_EQ(o.video.start_s, 1.5);
  EXPECT_EQ(o.video.duration_s, 2.0);
  EXPECT_EQ(o.video.draw_video, "out.mp4");
  EXPECT_EQ(o.video.track_high, 0.6);
  EXPECT_EQ(o.video.track_low, 0.2);
  EXPECT_EQ(o.video.track_match, 0.4);
  EXPECT_EQ(o.video.track_iou_weight, 1.0);
  EXPECT_EQ(o.video.track_max_age, 7);
  ASSERT_EQ(o.inputs.size(), 1u);
}

TEST(VideoArgs, Defaults) {
  const Options o = ParseArgs({"clip.mp4"});
  EXPECT_FALSE(o.video.track);
  EXPECT_EQ(o.video.every, 1);
  EXPECT_EQ(o.video.start_s, 0.0);
  EXPECT_EQ(o.video.duration_s, -1.0);
  EXPECT_TRUE(o.video.draw_video.empty());
}

TEST(VideoArgs, BadValuesAreUsageErrors) {
  for (const std::vector<std::string>& bad :
       std::vector<std::vector<std::string>>{{"--every", "0", "x.mp4"},
                                             {"--every", "2.5", "x.mp4"},
                                             {"--start", "-1", "x.mp4"},
                                             {"--duration", "nan", "x.mp4"},
                                             {"--track=yes", "x.mp4"},
                                             {"--track-high", "1.5", "x.mp4"},
                                             {"--track-max-age", "-3", "x.mp4"},
                                             {"--draw-video", "", "x.mp4"},
                                             {"--draw-video"}}) {
    EXPECT_THROW(ParseArgs(bad), UsageError) << bad[0];
  }
}

TEST(VideoArgs, WhatCountsAsAVideo) {
  for (const char* v : {"-", "a.mp4", "dir/B.MKV", "x.avi", "x.mov", "x.webm", "x.ts",
                        "rtsp://cam/stream", "http://host/v", "udp://@:1234", "/dev/video0"}) {
    EXPECT_TRUE(IsVideoInput(v)) << v;
  }
  for (const char* v : {"a.jpg", "photos", "x.mp4.png", "dir.mp4/file", "://x", "mp4"}) {
    EXPECT_FALSE(IsVideoInput(v)) << v;
  }
  EXPECT_TRUE(HasVideoExtension("out.MP4"));
  EXPECT_FALSE(HasVideoExtension("outdir"));
}

TEST(VideoArgs, ADirectoryNamedLikeAVideoIsADirectory) {
  namespace fs = std::filesystem;
  const fs::path dir =
      fs::temp_directory_path() / ("rtmo_args_" + std::to_string(getpid()) + ".mp4");
  fs::create_directories(dir);
  Options o;
  o.inputs = {dir.native()};
  EXPECT_FALSE(HasVideoInput(o));
  o.inputs = {dir.native(), "clip.mkv"};
  EXPECT_TRUE(HasVideoInput(o));
  fs::remove_all(dir);
}

TEST(VideoArgs, HelpMentionsVideo) {
  EXPECT_NE(UsageText().find("--track"), std::string::npos);
  EXPECT_NE(UsageText().find("--every"), std::string::npos);
}

}  // namespace
}  // namespace rtmo::cli
