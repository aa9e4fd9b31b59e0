// rtmo._rtmo: the Python binding of the public API (rtmo/rtmo.h) and the COCO evaluator.
// The package rtmo (rtmo/python/rtmo/__init__.py) re-exports everything defined here; the
// stubs with the full signatures are rtmo/python/rtmo/__init__.pyi.
//
// Data flow: numpy image (any strides) -> contiguous rtmo::Image (copy, GIL held) ->
// Model::Predict with the GIL released -> Poses (numpy arrays) with the GIL held again.
// forward() collects the observer's tensors into C++ buffers while the GIL is released and
// hands each buffer to numpy afterwards without another copy.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "rtmo/eval/cocoeval.h"
#include "rtmo/rtmo.h"

namespace py = pybind11;

namespace rtmo::python {
namespace {

// ---- Images -----------------------------------------------------------------------------

// numpy uint8 array HxWx3 (BGR) / HxW (grey) / HxWx4 (BGRA), any strides -> contiguous BGR.
// Grey is replicated to 3 channels and alpha dropped, as cv2.imread(IMREAD_COLOR) does.
// `what` names the argument in errors.
Image ToImage(const py::handle& obj, const char* what) {
  if (!py::isinstance<py::array>(obj)) {
    throw py::type_error(
        std::string(what) + ": expected a numpy.ndarray of dtype uint8 (HxWx3 BGR, " +
        "HxW or HxWx4), got " + std::string(py::str(py::type::of(obj).attr("__name__"))));
  }
  const py::array a = py::reinterpret_borrow<py::array>(obj);
  if (!a.dtype().is(py::dtype::of<uint8_t>())) {
    throw py::type_error(std::string(what) +
                         ": expected dtype uint8 (as cv2.imread returns), got " +
                         std::string(py::str(a.dtype())));
  }
  const int ndim = static_cast<int>(a.ndim());
  const int64_t channels = ndim == 3 ? a.shape(2) : 1;
  if (!(ndim == 2 || (ndim == 3 && (channels == 3 || channels == 4 || channels == 1)))) {
    std::string shape = "(";
    for (int i = 0; i < ndim; ++i) shape += (i ? ", " : "") + std::to_string(a.shape(i));
    shape += ndim == 1 ? ",)" : ")";
    throw py::value_error(std::string(what) +
                          ": expected shape (H, W, 3) BGR, (H, W) or (H, W, 4) " + "BGRA, got " +
                          shape);
  }
  const int64_t h = a.shape(0), w = a.shape(1);
  if (h <= 0 || w <= 0 || h > (int64_t{1} << 20) || w > (int64_t{1} << 20)) {
    throw py::value_error(std::string(what) + ": expected a non-empty image (H, W >= 1), got " +
                          std::to_string(h) + "x" + std::to_string(w));
  }
  Image img;
  img.width = static_cast<int>(w);
  img.height = static_cast<int>(h);
  img.bgr.resize(static_cast<size_t>(w) * h * 3);
  const auto* base = static_cast<const uint8_t*>(a.data());
  const py::ssize_t sy = a.strides(0), sx = a.strides(1), sc = ndim == 3 ? a.strides(2) : 0;
  uint8_t* out = img.bgr.data();
  if (channels == 3 && sc == 1 && sx == 3) {  // rows contiguous: one memcpy per row
    for (int64_t y = 0; y < h; ++y) std::memcpy(out + y * w * 3, base + y * sy, w * 3);
    return img;
  }
  for (int64_t y = 0; y < h; ++y) {
    const uint8_t* row = base + y * sy;
    for (int64_t x = 0; x < w; ++x, out += 3) {
      const uint8_t* px = row + x * sx;
      if (channels >= 3) {
        out[0] = px[0];
        out[1] = px[sc];
        out[2] = px[2 * sc];
      } else {
        out[0] = out[1] = out[2] = px[0];
      }
    }
  }
  return img;
}

// Image -> new numpy HxWx3 uint8 array (owns a copy).
py::array_t<uint8_t> ToArray(const Image& img) {
  py::array_t<uint8_t> a(
      {static_cast<py::ssize_t>(img.height), static_cast<py::ssize_t>(img.width), py::ssize_t{3}});
  std::memcpy(a.mutable_data(), img.bgr.data(), img.bgr.size());
  return a;
}

// A std::vector handed to numpy without a copy: the capsule owns it.
template <typename T>
py::array VectorToArray(std::vector<T>&& v, std::vector<py::ssize_t> shape) {
  auto* owned = new std::vector<T>(std::move(v));
  py::capsule free(owned, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>(std::move(shape), owned->data(), free);
}

// ---- Results ----------------------------------------------------------------------------

// People as numpy arrays: float32 for a float32 model (Person's doubles hold float32 values,
// so the conversion is exact), float64 for a float64 model. Keeps the C++ people for draw().
class Poses {
 public:
  Poses(std::vector<Person> people, int width, int height, bool f64, int num_keypoints)
      : people_(std::move(people)), width_(width), height_(height), num_keypoints_(num_keypoints) {
    if (f64) {
      Fill<double>();
    } else {
      Fill<float>();
    }
  }

  const std::vector<Person>& people() const { return people_; }
  int width() const { return width_; }
  int height() const { return height_; }
  py::ssize_t size() const { return static_cast<py::ssize_t>(people_.size()); }
  py::array bboxes, scores, keypoints, keypoint_scores;

  // The i-th person (negative indices count from the end) as a dict of numpy views.
  py::dict At(py::ssize_t i) const {
    const py::ssize_t n = size();
    if (i < 0) i += n;
    if (i < 0 || i >= n)
      throw py::index_error("Poses index out of range (" + std::to_string(n) + " people)");
    py::dict d;
    d["bbox"] = bboxes[py::int_(i)];
    d["score"] = py::float_(people_[i].score);
    d["keypoints"] = keypoints[py::int_(i)];
    d["keypoint_scores"] = keypoint_scores[py::int_(i)];
    return d;
  }

  // The CLI's JSON record for one image: {"file", "width", "height", "people": [{"bbox",
  // "score", "keypoints": [[x, y, score], ...]}]}, numbers as Python floats (exact).
  py::dict ToDict(const std::string& file) const {
    py::list people;
    for (const rtmo::Person& p : people_) {
      py::list kpts;
      for (const Keypoint& k : p.keypoints) {
        py::list xys;
        xys.append(k.x);
        xys.append(k.y);
        xys.append(k.score);
        kpts.append(xys);
      }
      py::dict d;
      d["bbox"] = py::list(py::make_tuple(p.bbox[0], p.bbox[1], p.bbox[2], p.bbox[3]));
      d["score"] = p.score;
      d["keypoints"] = kpts;
      people.append(d);
    }
    py::dict r;
    r["file"] = file;
    r["width"] = width_;
    r["height"] = height_;
    r["people"] = people;
    return r;
  }

 private:
  template <typename T>
  void Fill() {
    const py::ssize_t n = size(), k = num_keypoints_;
    py::array_t<T> b({n, py::ssize_t{4}}), s({n}), kp({n, k, py::ssize_t{2}}), ks({n, k});
    T *pb = b.mutable_data(), *ps = s.mutable_data(), *pk = kp.mutable_data(),
      *pks = ks.mutable_data();
    for (const rtmo::Person& p : people_) {
      for (int j = 0; j < 4; ++j) *pb++ = static_cast<T>(p.bbox[j]);
      *ps++ = static_cast<T>(p.score);
      for (const Keypoint& q : p.keypoints) {
        *pk++ = static_cast<T>(q.x);
        *pk++ = static_cast<T>(q.y);
        *pks++ = static_cast<T>(q.score);
      }
    }
    bboxes = b;
    scores = s;
    keypoints = kp;
    keypoint_scores = ks;
  }

  std::vector<rtmo::Person> people_;
  int width_, height_, num_keypoints_;
};

// ---- forward(): the observer ------------------------------------------------------------

// One module output copied out of the pipeline (the TensorView is only valid during the call).
struct Captured {
  std::string name;
  ElemType type;
  std::vector<int64_t> shape;
  std::vector<float> f32;
  std::vector<double> f64;
  std::vector<int64_t> i64;
};

// Copies the requested tensors (all if `wanted` is empty). Runs without the GIL: no Python.
class Collector : public Observer {
 public:
  explicit Collector(std::set<std::string> wanted) : wanted_(std::move(wanted)) {}
  void OnTensor(const TensorView& t) override {
    if (!wanted_.empty() && !wanted_.count(std::string(t.name))) return;
    Captured c{std::string(t.name), t.type, t.shape, {}, {}, {}};
    const size_t n = t.numel();
    switch (t.type) {
      case ElemType::kF32: {
        const auto* p = static_cast<const float*>(t.data);
        c.f32.assign(p, p + n);
        break;
      }
      case ElemType::kF64: {
        const auto* p = static_cast<const double*>(t.data);
        c.f64.assign(p, p + n);
        break;
      }
      case ElemType::kI64: {
        const auto* p = static_cast<const int64_t*>(t.data);
        c.i64.assign(p, p + n);
        break;
      }
    }
    out.push_back(std::move(c));
  }
  std::vector<Captured> out;

 private:
  std::set<std::string> wanted_;
};

// ---- Model ------------------------------------------------------------------------------

// rtmo::Error from ParsePrecision -> ValueError (a bad argument, not a bad file).
Precision ParsePrecisionArg(const std::string& name) {
  try {
    return ParsePrecision(name);
  } catch (const Error& e) {
    throw py::value_error(std::string("precision: ") + e.what());
  }
}

double CheckThreshold(double v, const char* name) {
  if (!(v >= 0 && v <= 1)) {
    throw py::value_error(std::string(name) + ": expected a value in [0, 1], got " +
                          std::to_string(v));
  }
  return v;
}

class PyModel {
 public:
  PyModel(const std::string& path, std::optional<int> threads, const std::string& precision,
          std::optional<std::pair<int, int>> input_size)
      : model_(Load(path, threads, precision, input_size)) {}

  Poses Predict(const py::handle& image, double score_thr, double nms_thr) const {
    return Run(image, score_thr, nms_thr, nullptr);
  }

  // Predict, and the seconds spent inside rtmo::Model::Predict (for bench/python_overhead.py:
  // the binding's overhead is the call's wall time minus this).
  std::pair<Poses, double> PredictTimed(const py::handle& image) const {
    double inner = 0;
    Poses p = Run(image, model_.options().score_thr, model_.options().nms_thr, &inner);
    return {std::move(p), inner};
  }

  py::dict Forward(const py::handle& image, const py::object& taps, double score_thr,
                   double nms_thr) const {
    std::set<std::string> wanted;
    if (!taps.is_none()) {
      const std::vector<std::string> valid = model_.TensorNames();
      std::vector<py::object> items;
      if (py::isinstance<py::str>(taps)) {
        items.push_back(taps);
      } else {
        for (const py::handle& h : taps) items.push_back(py::reinterpret_borrow<py::object>(h));
      }
      for (const py::object& o : items) {
        if (!py::isinstance<py::str>(o)) {
          throw py::type_error("taps: expected tensor names (str), got " +
                               std::string(py::str(py::type::of(o).attr("__name__"))));
        }
        const std::string name = o.cast<std::string>();
        if (std::find(valid.begin(), valid.end(), name) == valid.end()) {
          std::string list;
          for (const std::string& v : valid) list += (list.empty() ? "" : ", ") + v;
          throw py::key_error("unknown tensor '" + name + "'; valid names: " + list);
        }
        wanted.insert(name);
      }
      if (wanted.empty()) return py::dict();
    }
    Collector collector(std::move(wanted));
    Run(image, score_thr, nms_thr, nullptr, &collector);
    py::dict out;
    for (Captured& c : collector.out) {
      const std::vector<py::ssize_t> shape(c.shape.begin(), c.shape.end());
      switch (c.type) {
        case ElemType::kF32:
          out[py::str(c.name)] = VectorToArray(std::move(c.f32), shape);
          break;
        case ElemType::kF64:
          out[py::str(c.name)] = VectorToArray(std::move(c.f64), shape);
          break;
        case ElemType::kI64:
          out[py::str(c.name)] = VectorToArray(std::move(c.i64), shape);
          break;
      }
    }
    return out;
  }

  py::tuple Letterbox(const py::handle& image) const {
    const Image img = ToImage(image, "image");
    NetworkInput in;
    {
      py::gil_scoped_release release;
      in = model_.Letterbox(img);
    }
    py::array input = VectorToArray(std::move(in.chw), {1, 3, in.height, in.width});
    py::array_t<double> matrix({2, 3});
    std::copy(in.matrix.begin(), in.matrix.end(), matrix.mutable_data());
    return py::make_tuple(input, matrix);
  }

  const rtmo::Model& model() const { return model_; }

 private:
  static rtmo::Model Load(const std::string& path, std::optional<int> threads,
                          const std::string& precision,
                          std::optional<std::pair<int, int>> input_size) {
    ModelOptions o;
    o.precision = ParsePrecisionArg(precision);
    if (threads) {
      if (*threads < 1) {
        throw py::value_error(
            "threads: expected None (OpenMP's default) or a positive count, got " +
            std::to_string(*threads));
      }
      o.threads = *threads;
    }
    if (input_size) {
      const auto [w, h] = *input_size;
      if (w <= 0 || h <= 0 || w % 32 || h % 32) {
        throw py::value_error(
            "input_size: expected (width, height), positive multiples of 32, got (" +
            std::to_string(w) + ", " + std::to_string(h) + ")");
      }
      o.input_width = w;
      o.input_height = h;
    }
    py::gil_scoped_release release;  // loading packs every tensor: seconds for rtmo-l
    return rtmo::Model::Load(path, o);
  }

  Poses Run(const py::handle& image, double score_thr, double nms_thr, double* inner_seconds,
            Observer* observer = nullptr) const {
    const Image img = ToImage(image, "image");
    PredictOptions o;
    o.score_thr = CheckThreshold(score_thr, "score_thr");
    o.nms_thr = CheckThreshold(nms_thr, "nms_thr");
    o.observer = observer;
    std::vector<rtmo::Person> people;
    {
      py::gil_scoped_release release;
      const auto t0 = std::chrono::steady_clock::now();
      people = model_.Predict(img, o);
      if (inner_seconds) {
        *inner_seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      }
    }
    const ModelInfo& info = model_.info();
    return Poses(std::move(people), img.width, img.height, info.precision == Precision::kF64,
                 info.num_keypoints);
  }

  rtmo::Model model_;
};

py::tuple KeypointNamesTuple(int k) {
  py::list l;
  for (const char* n : KeypointNames(k)) l.append(n);
  return py::tuple(l);
}

py::tuple SkeletonTuple(int k, bool colors) {
  py::list l;
  for (const SkeletonLink& s : Skeleton(k)) {
    if (colors) {
      l.append(py::make_tuple(s.rgb[0], s.rgb[1], s.rgb[2]));
    } else {
      l.append(py::make_tuple(s.a, s.b));
    }
  }
  return py::tuple(l);
}

}  // namespace
}  // namespace rtmo::python

PYBIND11_MODULE(_rtmo, m) {
  using namespace rtmo;
  using namespace rtmo::python;
  namespace py = pybind11;
  m.doc() = "rtmo.cpp: RTMO multi-person pose estimation (C++), numpy in and out.";
  m.attr("__version__") = Version();

  static py::exception<Error> error(m, "Error", PyExc_RuntimeError);
  error.attr("__module__") = "rtmo";
  error.doc() =
      "Raised for every failure of the library (unreadable file, bad weights, bad image): the "
      "message names the file, tensor or field, what was expected and what was found.";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      error(e.what());
    }
  });

  py::class_<Poses>(m, "Poses",
                    R"doc(The people found in one image, in the official order (descending score).

Attributes (numpy arrays, float32 for a float32 model, float64 for a float64 model):
  bboxes          [N, 4]     x1, y1, x2, y2 in image pixels
  scores          [N]        person scores
  keypoints       [N, K, 2]  x, y in image pixels (may lie outside the image)
  keypoint_scores [N, K]     keypoint visibility scores
  width, height   the image size

len(poses) is N; poses[i] and iteration give one dict per person with the keys bbox, score,
keypoints, keypoint_scores; poses.to_dict(file) is the CLI's JSON record.)doc")
      .def_readonly("bboxes", &Poses::bboxes)
      .def_readonly("scores", &Poses::scores)
      .def_readonly("keypoints", &Poses::keypoints)
      .def_readonly("keypoint_scores", &Poses::keypoint_scores)
      .def_property_readonly("width", &Poses::width)
      .def_property_readonly("height", &Poses::height)
      .def("__len__", &Poses::size)
      .def("__getitem__", &Poses::At, py::arg("i"))
      .def("__iter__",
           [](const Poses& p) {
             py::list l;
             for (py::ssize_t i = 0; i < p.size(); ++i) l.append(p.At(i));
             return py::iter(l);
           })
      .def("to_dict", &Poses::ToDict, py::arg("file") = "",
           "The record `rtmo --json` writes for this image: {'file', 'width', 'height', 'people': "
           "[{'bbox': [x1, y1, x2, y2], 'score': s, 'keypoints': [[x, y, score], ...]}]}, with the "
           "same numbers (Python floats, exact).")
      .def("__repr__", [](const Poses& p) {
        return "<rtmo.Poses: " + std::to_string(p.size()) + " people in a " +
               std::to_string(p.width()) + "x" + std::to_string(p.height()) + " image>";
      });

  py::class_<PyModel>(m, "Model", R"doc(A loaded RTMO model (.rtmo weights file).

Model(path, threads=None, precision="f32", input_size=None)
  path       a .rtmo file, an official .pth (converted once into the model cache) or a
             model name such as "rtmo-s" or "rtmo-m-coco" (from $RTMO_HOME, downloaded
             on first use; see `rtmo fetch --help`)
  threads    threads per call; None: OpenMP's default (OMP_NUM_THREADS or all cores).
             Results do not depend on it.
  precision  "f32"/"float32" (fast, the default) or "f64"/"float64" (exact verification);
             anything else raises ValueError listing the accepted names.
  input_size (width, height) of the network input, multiples of 32; None: the checkpoint's
             (640x640, 416x416 for rtmo-t).
Raises rtmo.Error naming the file and what is wrong with it.

One Model may be used from several Python threads at once: calls release the GIL and each
runs in its own memory.)doc")
      .def(py::init<const std::string&, std::optional<int>, const std::string&,
                    std::optional<std::pair<int, int>>>(),
           py::arg("path"), py::arg("threads") = py::none(), py::arg("precision") = "f32",
           py::arg("input_size") = py::none())
      .def("predict", &PyModel::Predict, py::arg("image"), py::arg("score_thr") = 0.1,
           py::arg("nms_thr") = 0.65,
           R"doc(image -> Poses.

image: numpy uint8 array, HxWx3 BGR (as cv2.imread returns it), HxW grey or HxWx4 BGRA,
any strides. score_thr: keep cells scoring > score_thr; nms_thr: suppress boxes overlapping
a better one with IoU > nms_thr (the official test_cfg defaults).)doc")
      .def(
          "__call__",
          [](const PyModel& self, const py::handle& image) {
            const ModelOptions& o = self.model().options();
            return self.Predict(image, o.score_thr, o.nms_thr);
          },
          py::arg("image"), "model(image) is model.predict(image) with the default thresholds.")
      .def("_predict_timed", &PyModel::PredictTimed, py::arg("image"),
           "(Poses, seconds spent inside the C++ Model::Predict): for measuring the binding's "
           "overhead.")
      .def("forward", &PyModel::Forward, py::arg("image"), py::arg("taps") = py::none(),
           py::arg("score_thr") = 0.1, py::arg("nms_thr") = 0.65,
           R"doc(image -> {name: numpy array} of every module output, in pipeline order.

Names and shapes are those of `rtmo --dump` and tools/reference (e.g. "input" [1,3,H,W],
"backbone.stage2", "neck.out.0", "head.cls_score.0", "pre_nms.index" (int64), "nms.keep",
"dcc.x_logits" [N,K,Bx], "keypoints.input" [N,K,2]); float64 arrays on a float64 model.
taps: None for all, or a list of names (a single str is one name); an unknown name raises
KeyError listing the valid ones (Model.tensor_names()).)doc")
      .def("letterbox", &PyModel::Letterbox, py::arg("image"),
           R"doc(image -> (input, matrix): the network input exactly as predict() builds it.

input: float32 [1, 3, H, W], BGR 0..255, no normalisation (feed it to a PyTorch model);
matrix: float64 [2, 3], the affine map from image to network-input pixels.)doc")
      .def(
          "tensor_names", [](const PyModel& self) { return self.model().TensorNames(); },
          "Every name forward() returns, in pipeline order.")
      .def_property_readonly(
          "info",
          [](const PyModel& self) {
            const ModelInfo& i = self.model().info();
            py::dict d;
            d["path"] = i.path;
            d["variant"] = i.variant;
            d["dataset"] = i.dataset;
            d["num_keypoints"] = i.num_keypoints;
            d["input_size"] = py::make_tuple(i.input_width, i.input_height);
            d["precision"] = std::string(PrecisionName(i.precision));
            d["weights_version"] = i.weights_version;
            d["summary"] = i.summary;
            return d;
          },
          "What the model is: path, variant, dataset, num_keypoints, input_size (w, h), "
          "precision, weights_version, summary.")
      .def_property_readonly(
          "precision",
          [](const PyModel& self) {
            return std::string(PrecisionName(self.model().info().precision));
          },
          "\"f32\" or \"f64\".")
      .def_property_readonly(
          "threads",
          [](const PyModel& self) -> py::object {
            const int t = self.model().options().threads;
            return t > 0 ? py::object(py::int_(t)) : py::object(py::none());
          },
          "Threads per call (None: OpenMP's default, OMP_NUM_THREADS or all cores).")
      .def_property_readonly(
          "keypoint_names",
          [](const PyModel& self) { return KeypointNamesTuple(self.model().info().num_keypoints); },
          "Keypoint names in model order (COCO-17 or CrowdPose-14).")
      .def("__repr__",
           [](const PyModel& self) { return "<rtmo.Model " + self.model().info().summary + ">"; });

  m.def(
      "load_image",
      [](const std::string& path) {
        Image img;
        {
          py::gil_scoped_release release;
          img = LoadImage(path);
        }
        return ToArray(img);
      },
      py::arg("path"),
      "path -> HxWx3 uint8 BGR array: the library's decoder (JPEG/PNG/BMP, EXIF orientation), the "
      "same pixels the rtmo command sees. Raises rtmo.Error naming the file.");
  m.def(
      "draw",
      [](const py::handle& image, const Poses& poses, double kpt_thr, bool boxes,
         const std::string& title) {
        Image img = ToImage(image, "image");
        DrawOptions o;
        o.kpt_thr = kpt_thr;
        o.boxes = boxes;
        o.title = title;
        {
          py::gil_scoped_release release;
          Draw(&img, poses.people(), o);
        }
        return ToArray(img);
      },
      py::arg("image"), py::arg("poses"), py::arg("kpt_thr") = 0.3, py::arg("boxes") = true,
      py::arg("title") = "",
      "(image, poses) -> a new HxWx3 uint8 BGR array with the people drawn as mmpose draws them "
      "(boxes, skeleton links and keypoints scoring >= kpt_thr). The input is not modified.");
  m.def(
      "evaluate",
      [](const std::string& ann_path, const std::string& results_path) {
        KeypointEvalResult r;
        {
          py::gil_scoped_release release;
          const KeypointDataset gt = LoadKeypointDataset(ann_path);
          const std::vector<Detection> dets = LoadKeypointResults(results_path, gt);
          r = EvaluateKeypoints(gt, dets);
        }
        py::dict d;
        for (size_t i = 0; i < kStatNames.size(); ++i) d[kStatNames[i]] = r.stats[i];
        return d;
      },
      py::arg("ann_path"), py::arg("results_path"),
      "COCO keypoint evaluation (pycocotools' COCOeval, reimplemented): annotation file and "
      "results file (`rtmo --coco-results`) -> {'AP', 'AP50', 'AP75', 'APm', 'APl', 'AR', "
      "'AR50', 'AR75', 'ARm', 'ARl'}; -1 where undefined.");
  m.def("keypoint_names", &KeypointNamesTuple, py::arg("num_keypoints") = 17,
        "Keypoint names for 17 (COCO) or 14 (CrowdPose) keypoints; () otherwise.");
  m.def(
      "skeleton", [](int k) { return SkeletonTuple(k, false); }, py::arg("num_keypoints") = 17,
      "Skeleton links (a, b) for 17 (COCO) or 14 (CrowdPose) keypoints.");
  m.attr("KEYPOINT_NAMES") = KeypointNamesTuple(17);
  m.attr("SKELETON") = SkeletonTuple(17, false);
  m.attr("SKELETON_RGB") = SkeletonTuple(17, true);
  m.attr("PRECISIONS") = py::make_tuple("f32", "f64");
}
