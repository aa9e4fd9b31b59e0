#include "rtmo/video/writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

#include "rtmo/error.h"
#include "rtmo/video/ffmpeg_util.h"

namespace rtmo {

using video_internal::AvErrorText;
using video_internal::TakeLastLogLine;

struct VideoWriter::Impl {
  std::string path, temp;
  VideoWriterOptions options;
  std::string encoder_name;
  AVFormatContext* oc = nullptr;
  AVCodecContext* enc = nullptr;
  AVStream* stream = nullptr;
  AVFrame* frame = nullptr;
  AVPacket* pkt = nullptr;
  SwsContext* sws = nullptr;
  int64_t frames = 0;
  bool header_written = false;

  ~Impl() {
    Free();
    if (!temp.empty()) unlink(temp.c_str());
  }
  void Free() {
    sws_freeContext(sws);
    sws = nullptr;
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&enc);
    if (oc) {
      if (oc->pb) avio_closep(&oc->pb);
      avformat_free_context(oc);
      oc = nullptr;
    }
  }
  [[noreturn]] void Fail(const std::string& what, int err) {
    std::string msg = path + ": " + what;
    if (err != 0) msg += ": " + AvErrorText(err);
    const std::string log = TakeLastLogLine();
    if (!log.empty()) msg += " (ffmpeg: " + log + ")";
    throw Error(msg);
  }
  // Moves every packet the encoder has ready into the container.
  void Drain() {
    for (;;) {
      int err = avcodec_receive_packet(enc, pkt);
      if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return;
      if (err < 0) Fail("encoding failed", err);
      av_packet_rescale_ts(pkt, enc->time_base, stream->time_base);
      pkt->stream_index = stream->index;
      err = av_interleaved_write_frame(oc, pkt);  // takes ownership of the packet's data
      if (err < 0) Fail("cannot write to the file", err);
    }
  }
};

VideoWriter VideoWriter::Open(const std::string& path, const VideoWriterOptions& o) {
  video_internal::InstallQuietLog();
  if (o.width <= 0 || o.height <= 0) {
    throw Error(path + ": bad video size " + std::to_string(o.width) + "x" +
                std::to_string(o.height));
  }
  if (o.fps_num <= 0 || o.fps_den <= 0) {
    throw Error(path + ": bad frame rate " + std::to_string(o.fps_num) + "/" +
                std::to_string(o.fps_den));
  }
  auto impl = std::make_unique<Impl>();
  Impl& m = *impl;
  m.path = path;
  m.options = o;
  const AVOutputFormat* ofmt = av_guess_format(nullptr, path.c_str(), nullptr);
  if (!ofmt || ofmt->video_codec == AV_CODEC_ID_NONE) {
    throw Error(path +
                ": unknown video container for this file name (use .mp4, .mkv, .mov, "
                ".avi)");
  }

  // The encoder: the one asked for, else H.264 (libx264 first), else MPEG-4 part 2.
  const AVCodec* codec = nullptr;
  if (!o.encoder.empty()) {
    codec = avcodec_find_encoder_by_name(o.encoder.c_str());
    if (!codec) throw Error(path + ": no encoder named '" + o.encoder + "' in this FFmpeg");
  } else {
    codec = avcodec_find_encoder_by_name("libx264");
    if (!codec) codec = avcodec_find_encoder(AV_CODEC_ID_H264);
    if (!codec) codec = avcodec_find_encoder(AV_CODEC_ID_MPEG4);
    if (!codec) throw Error(path + ": this FFmpeg has neither an H.264 nor an MPEG-4 encoder");
  }
  m.encoder_name = codec->name;
  // 4:2:0 needs even sizes; libx264 takes 4:4:4 for odd ones (no pixel is dropped).
  const bool odd = (o.width % 2) || (o.height % 2);
  AVPixelFormat pix = AV_PIX_FMT_YUV420P;
  if (odd) {
    if (m.encoder_name != "libx264") {
      throw Error(path + ": " + m.encoder_name + " needs an even width and height, got " +
                  std::to_string(o.width) + "x" + std::to_string(o.height));
    }
    pix = AV_PIX_FMT_YUV444P;
  }

  // The temporary file next to the target (same file system, so rename is atomic).
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::string tmpl = (dir / ("." + target.filename().native() + ".tmp.XXXXXX")).native();
  const int fd = mkstemp(tmpl.data());
  if (fd < 0) {
    throw Error(path + ": cannot create a temporary file in '" + dir.native() +
                "': " + std::strerror(errno));
  }
  close(fd);
  m.temp = tmpl;

  int err = avformat_alloc_output_context2(&m.oc, ofmt, nullptr, m.temp.c_str());
  if (err < 0 || !m.oc) m.Fail("cannot create the container", err);
  m.enc = avcodec_alloc_context3(codec);
  m.frame = av_frame_alloc();
  m.pkt = av_packet_alloc();
  if (!m.enc || !m.frame || !m.pkt) throw Error(path + ": out of memory (encoder)");
  m.enc->width = o.width;
  m.enc->height = o.height;
  m.enc->time_base = AVRational{o.fps_den, o.fps_num};
  m.enc->framerate = AVRational{o.fps_num, o.fps_den};
  m.enc->pix_fmt = pix;
  m.enc->thread_count = o.threads;
  if (m.oc->oformat->flags & AVFMT_GLOBALHEADER) m.enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  if (m.encoder_name == "libx264") {
    av_opt_set(m.enc->priv_data, "preset", o.preset.c_str(), 0);
    av_opt_set_int(m.enc->priv_data, "crf", o.crf, 0);
  } else {
    // Fixed quantiser (2 = best .. 31): about the quality of crf 20.
    m.enc->flags |= AV_CODEC_FLAG_QSCALE;
    m.enc->global_quality = FF_QP2LAMBDA * 3;
  }
  if ((err = avcodec_open2(m.enc, codec, nullptr)) < 0) {
    m.Fail("cannot open the " + m.encoder_name + " encoder", err);
  }
  m.stream = avformat_new_stream(m.oc, nullptr);
  if (!m.stream) throw Error(path + ": out of memory (stream)");
  m.stream->time_base = m.enc->time_base;
  m.stream->avg_frame_rate = m.enc->framerate;
  if ((err = avcodec_parameters_from_context(m.stream->codecpar, m.enc)) < 0) {
    m.Fail("bad encoder parameters", err);
  }
  if ((err = avio_open(&m.oc->pb, m.temp.c_str(), AVIO_FLAG_WRITE)) < 0) {
    m.Fail("cannot open '" + m.temp + "' for writing", err);
  }
  if ((err = avformat_write_header(m.oc, nullptr)) < 0) m.Fail("cannot write the header", err);
  m.header_written = true;

  m.frame->format = pix;
  m.frame->width = o.width;
  m.frame->height = o.height;
  if ((err = av_frame_get_buffer(m.frame, 0)) < 0) m.Fail("cannot allocate a frame", err);
  m.sws = sws_getContext(o.width, o.height, AV_PIX_FMT_BGR24, o.width, o.height, pix, SWS_BICUBIC,
                         nullptr, nullptr, nullptr);
  if (!m.sws) throw Error(path + ": cannot set up the BGR -> YUV conversion");
  return VideoWriter(std::move(impl));
}

void VideoWriter::Write(const Image& image) {
  Impl& m = *impl_;
  if (!m.enc) throw Error(m.path + ": the video is already closed");
  if (image.width != m.options.width || image.height != m.options.height ||
      image.bgr.size() != static_cast<size_t>(image.width) * image.height * 3) {
    throw Error(m.path + ": frame " + std::to_string(m.frames) + " is " +
                std::to_string(image.width) + "x" + std::to_string(image.height) +
                ", the video is " + std::to_string(m.options.width) + "x" +
                std::to_string(m.options.height));
  }
  int err = av_frame_make_writable(m.frame);  // the encoder may still hold the last one
  if (err < 0) m.Fail("cannot allocate a frame", err);
  const uint8_t* src[4] = {image.bgr.data(), nullptr, nullptr, nullptr};
  const int src_stride[4] = {image.width * 3, 0, 0, 0};
  sws_scale(m.sws, src, src_stride, 0, image.height, m.frame->data, m.frame->linesize);
  m.frame->pts = m.frames;
  if ((err = avcodec_send_frame(m.enc, m.frame)) < 0) {
    m.Fail("cannot encode frame " + std::to_string(m.frames), err);
  }
  ++m.frames;
  m.Drain();
}

void VideoWriter::Close() {
  Impl& m = *impl_;
  if (!m.enc) return;
  int err = avcodec_send_frame(m.enc, nullptr);
  if (err < 0 && err != AVERROR_EOF) m.Fail("cannot flush the encoder", err);
  m.Drain();
  if ((err = av_write_trailer(m.oc)) < 0) m.Fail("cannot finish the container", err);
  if ((err = avio_closep(&m.oc->pb)) < 0) m.Fail("cannot close the file", err);
  m.Free();
  // Durable before it gets the final name; usual permissions (mkstemp made it 0600).
  const int fd = open(m.temp.c_str(), O_RDWR);
  if (fd < 0) throw Error(m.path + ": cannot reopen '" + m.temp + "': " + std::strerror(errno));
  const mode_t mask = umask(0);
  umask(mask);
  const bool ok = fchmod(fd, 0666 & ~mask) == 0 && fsync(fd) == 0;
  const int sync_errno = errno;
  close(fd);
  if (!ok) throw Error(m.path + ": cannot sync the file: " + std::strerror(sync_errno));
  if (rename(m.temp.c_str(), m.path.c_str()) != 0) {
    throw Error(m.path + ": cannot rename the temporary file into place: " + std::strerror(errno));
  }
  m.temp.clear();
}

const std::string& VideoWriter::encoder_name() const { return impl_->encoder_name; }
const std::string& VideoWriter::temp_path() const { return impl_->temp; }
int64_t VideoWriter::frames_written() const { return impl_->frames; }

VideoWriter::VideoWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
VideoWriter::VideoWriter(VideoWriter&&) noexcept = default;
VideoWriter& VideoWriter::operator=(VideoWriter&&) noexcept = default;
VideoWriter::~VideoWriter() = default;

}  // namespace rtmo
