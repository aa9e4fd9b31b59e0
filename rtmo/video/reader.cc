#include "rtmo/video/reader.h"

#include <cmath>
#include <cstring>
#include <mutex>
#include <string_view>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
#ifdef RTMO_HAVE_AVDEVICE
#include <libavdevice/avdevice.h>
#endif
}

#include "rtmo/error.h"
#include "rtmo/video/ffmpeg_util.h"

namespace rtmo {

using video_internal::AvErrorText;
using video_internal::TakeLastLogLine;

namespace {

// `src` rotated clockwise by `degrees` (90, 180, 270) into *dst (90/270 swap width and
// height): dst(r, c) = src(h-1-c, r) for 90, src(h-1-r, w-1-c) for 180, src(c, w-1-r) for 270.
void Rotate(const Image& src, int degrees, Image* dst) {
  const int w = src.width, h = src.height;
  const bool swap = degrees != 180;
  dst->width = swap ? h : w;
  dst->height = swap ? w : h;
  dst->bgr.resize(src.bgr.size());
  for (int r = 0; r < dst->height; ++r) {
    for (int c = 0; c < dst->width; ++c) {
      int sr, sc;
      if (degrees == 90) {
        sr = h - 1 - c, sc = r;
      } else if (degrees == 180) {
        sr = h - 1 - r, sc = w - 1 - c;
      } else {
        sr = c, sc = w - 1 - r;
      }
      const uint8_t* s = &src.bgr[(static_cast<size_t>(sr) * w + sc) * 3];
      uint8_t* d = &dst->bgr[(static_cast<size_t>(r) * dst->width + c) * 3];
      d[0] = s[0];
      d[1] = s[1];
      d[2] = s[2];
    }
  }
}

}  // namespace

struct VideoReader::Impl {
  VideoInfo info;
  VideoReaderOptions options;
  AVFormatContext* fmt = nullptr;
  AVCodecContext* dec = nullptr;
  AVPacket* pkt = nullptr;
  AVFrame* frame = nullptr;
  SwsContext* sws = nullptr;
  int stream = -1;
  AVRational time_base{0, 1};
  int64_t start_pts = 0;  // the stream's start time in time_base units (0 if unknown)
  bool draining = false;  // the demuxer is at its end; the decoder is being flushed
  bool done = false;
  int64_t decoded = 0;   // frames out of the decoder (including those before start_s)
  int64_t returned = 0;  // frames given to the caller
  Image unrotated;       // conversion buffer when the frames are rotated

  ~Impl() {
    sws_freeContext(sws);
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
  }

  // "SOURCE: what (FFmpeg's error text; its last log line)".
  [[noreturn]] void Fail(const std::string& what, int err) {
    std::string msg = info.source + ": " + what;
    if (err != 0) msg += ": " + AvErrorText(err);
    const std::string log = TakeLastLogLine();
    if (!log.empty()) msg += " (ffmpeg: " + log + ")";
    throw Error(msg);
  }

  // The decoded `frame` -> BGR24 into *out (the same call OpenCV's cap_ffmpeg makes:
  // sws_getCachedContext(w, h, fmt -> w, h, BGR24, SWS_BICUBIC)).
  void Convert(Image* out) {
    const int w = frame->width, h = frame->height;
    sws = sws_getCachedContext(sws, w, h, static_cast<AVPixelFormat>(frame->format), w, h,
                               AV_PIX_FMT_BGR24, SWS_BICUBIC, nullptr, nullptr, nullptr);
    if (!sws)
      Fail("frame " + std::to_string(decoded - 1) + ": cannot convert pixel format '" +
               (av_get_pix_fmt_name(static_cast<AVPixelFormat>(frame->format))
                    ? av_get_pix_fmt_name(static_cast<AVPixelFormat>(frame->format))
                    : "?") +
               "' to BGR",
           0);
    out->width = w;
    out->height = h;
    out->bgr.resize(static_cast<size_t>(w) * h * 3);
    uint8_t* dst[4] = {out->bgr.data(), nullptr, nullptr, nullptr};
    int dst_stride[4] = {w * 3, 0, 0, 0};
    sws_scale(sws, frame->data, frame->linesize, 0, h, dst, dst_stride);
  }
};

bool VideoHasCameraSupport() {
#ifdef RTMO_HAVE_AVDEVICE
  return true;
#else
  return false;
#endif
}

VideoReader VideoReader::Open(const std::string& source, const VideoReaderOptions& options) {
  video_internal::InstallQuietLog();
  static std::once_flag net_once;
  std::call_once(net_once, [] {
    avformat_network_init();
#ifdef RTMO_HAVE_AVDEVICE
    avdevice_register_all();
#endif
  });
  auto impl = std::make_unique<Impl>();
  Impl& m = *impl;
  m.info.source = source;
  m.options = options;
  if (source.empty()) throw Error("video input: empty file name");

  // "-" is standard input (FFmpeg's pipe protocol); /dev/videoN is a V4L2 camera.
  std::string url = source == "-" ? std::string("pipe:0") : source;
  const AVInputFormat* in_fmt = nullptr;
  if (source.rfind("/dev/video", 0) == 0) {
#ifdef RTMO_HAVE_AVDEVICE
    in_fmt = av_find_input_format("v4l2");
#endif
    if (!in_fmt) {
      throw Error(source +
                  ": cameras need FFmpeg's libavdevice (v4l2 input), which this build does not "
                  "have: install libavdevice-dev and re-run cmake");
    }
  }
  TakeLastLogLine();
  int err = avformat_open_input(&m.fmt, url.c_str(), in_fmt, nullptr);
  if (err < 0) {
    m.fmt = nullptr;
    m.Fail("cannot open the video", err);
  }
  if ((err = avformat_find_stream_info(m.fmt, nullptr)) < 0) {
    m.Fail("cannot read the stream information (not a video, or damaged?)", err);
  }
  const AVCodec* codec = nullptr;
  m.stream = av_find_best_stream(m.fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
  if (m.stream == AVERROR_STREAM_NOT_FOUND) m.Fail("no video stream in the file", 0);
  if (m.stream < 0 || !codec) {
    m.Fail("no decoder for the video stream in this FFmpeg build", m.stream < 0 ? m.stream : 0);
  }
  AVStream* st = m.fmt->streams[m.stream];
  m.dec = avcodec_alloc_context3(codec);
  if (!m.dec) throw Error(source + ": out of memory (decoder context)");
  if ((err = avcodec_parameters_to_context(m.dec, st->codecpar)) < 0) {
    m.Fail("bad codec parameters", err);
  }
  m.dec->thread_count = std::max(1, options.decoder_threads);
  if ((err = avcodec_open2(m.dec, codec, nullptr)) < 0) {
    m.Fail(std::string("cannot open the ") + codec->name + " decoder", err);
  }
  m.pkt = av_packet_alloc();
  m.frame = av_frame_alloc();
  if (!m.pkt || !m.frame) throw Error(source + ": out of memory (packet/frame)");
  m.time_base = st->time_base;
  m.start_pts = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;

  m.info.format = m.fmt->iformat && m.fmt->iformat->name ? m.fmt->iformat->name : "";
  m.info.codec = codec->name;
  m.info.width = m.dec->width;
  m.info.height = m.dec->height;
  if (options.auto_rotate) {
    // As OpenCV 4.6's cap_ffmpeg (checked against python3-opencv in video_io_test): the
    // angle av_display_rotation_get reports, rounded, mod 360, applied clockwise; other
    // angles and the flip of mirrored matrices are ignored.
    const uint8_t* matrix = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, nullptr);
    if (matrix) {
      const double got = av_display_rotation_get(reinterpret_cast<const int32_t*>(matrix));
      if (std::isfinite(got)) {
        int angle = static_cast<int>(std::lround(got));
        angle = ((angle % 360) + 360) % 360;
        if (angle == 90 || angle == 180 || angle == 270) m.info.rotation = angle;
      }
    }
    if (m.info.rotation % 180 == 90) std::swap(m.info.width, m.info.height);
  }
  const AVRational rate = st->avg_frame_rate.num > 0 ? st->avg_frame_rate : st->r_frame_rate;
  m.info.fps = rate.num > 0 && rate.den > 0 ? av_q2d(rate) : 0.0;
  if (m.info.fps > 0) {
    m.info.fps_num = rate.num;
    m.info.fps_den = rate.den;
  }
  m.info.frame_count = st->nb_frames > 0 ? st->nb_frames : -1;
  if (st->duration != AV_NOPTS_VALUE && st->duration > 0) {
    m.info.duration_s = st->duration * av_q2d(st->time_base);
  } else if (m.fmt->duration != AV_NOPTS_VALUE && m.fmt->duration > 0) {
    m.info.duration_s = m.fmt->duration / static_cast<double>(AV_TIME_BASE);
  }
  return VideoReader(std::move(impl));
}

bool VideoReader::Read(VideoFrame* out) {
  Impl& m = *impl_;
  if (m.done) return false;
  for (;;) {
    int err = avcodec_receive_frame(m.dec, m.frame);
    if (err == 0) {
      const int64_t ts = m.frame->best_effort_timestamp;
      // Without a timestamp, the frame's place at the nominal rate.
      const double pts_s = ts != AV_NOPTS_VALUE ? (ts - m.start_pts) * av_q2d(m.time_base)
                                                : (m.info.fps > 0 ? m.decoded / m.info.fps : 0.0);
      const int64_t index = m.decoded++;
      if (pts_s + 1e-9 < m.options.start_s) {
        av_frame_unref(m.frame);
        continue;
      }
      if (m.info.rotation == 0) {
        m.Convert(&out->image);
      } else {
        m.Convert(&m.unrotated);
        Rotate(m.unrotated, m.info.rotation, &out->image);
      }
      out->pts_s = pts_s;
      out->index = index;
      ++m.returned;
      av_frame_unref(m.frame);
      return true;
    }
    if (err == AVERROR_EOF) {
      m.done = true;
      return false;
    }
    if (err != AVERROR(EAGAIN)) {
      m.Fail("cannot decode frame " + std::to_string(m.decoded), err);
    }
    if (m.draining) {
      // The decoder asked for input after the flush packet: nothing more will come.
      m.done = true;
      return false;
    }
    err = av_read_frame(m.fmt, m.pkt);
    if (err == AVERROR_EOF) {
      m.draining = true;
      avcodec_send_packet(m.dec, nullptr);
      continue;
    }
    if (err < 0) {
      m.Fail("cannot read the data of frame " + std::to_string(m.decoded), err);
    }
    if (m.pkt->stream_index != m.stream) {
      av_packet_unref(m.pkt);
      continue;
    }
    err = avcodec_send_packet(m.dec, m.pkt);
    av_packet_unref(m.pkt);
    if (err < 0 && err != AVERROR(EAGAIN)) {
      m.Fail("cannot decode frame " + std::to_string(m.decoded), err);
    }
  }
}

const VideoInfo& VideoReader::info() const { return impl_->info; }

VideoReader::VideoReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
VideoReader::VideoReader(VideoReader&&) noexcept = default;
VideoReader& VideoReader::operator=(VideoReader&&) noexcept = default;
VideoReader::~VideoReader() = default;

}  // namespace rtmo
