// COCO keypoint evaluation; see eval.h for the semantics and the pycocotools references.
#include "rtmo/eval/eval.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cfloat>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <unordered_map>
#include <unordered_set>

#include "rtmo/error.h"

namespace rtmo {
namespace {

using Json = nlohmann::json;

// pycocotools cocoeval.py Params.setKpParams: iouThrs = np.linspace(.5, 0.95, 10),
// recThrs = np.linspace(.0, 1.00, 101), areaRng = [[0, 1e5**2], [32**2, 96**2],
// [96**2, 1e5**2]] labelled all / medium / large.
constexpr double kIouLo = 0.5, kIouHi = 0.95;
constexpr int kNumIou = 10;
constexpr int kNumRecall = 101;
constexpr int kNumAreas = 3;
constexpr double kAreaRanges[kNumAreas][2] = {
    {0.0, 1e5 * 1e5}, {32.0 * 32.0, 96.0 * 96.0}, {96.0 * 96.0, 1e5 * 1e5}};
constexpr const char* kAreaLabels[kNumAreas] = {"all", "medium", "large"};
// cocoeval.py evaluateImg: `iou = min([t, 1-1e-10])` caps a threshold below a perfect match.
constexpr double kMaxThreshold = 1 - 1e-10;
// np.spacing(1): added to the GT area in computeOks and to tp+fp in accumulate.
constexpr double kSpacing1 = DBL_EPSILON;

// np.linspace(lo, hi, n) exactly as numpy 1.x computes it: i * ((hi - lo) / (n - 1)) + lo,
// last element set to hi. The rounding matters: thresholds are compared with OKS values,
// and summarize() finds 0.5 / 0.75 by equality.
// -> [n]
std::vector<double> NumpyLinspace(double lo, double hi, int n) {
  std::vector<double> y(n);
  const double step = (hi - lo) / (n - 1);
  for (int i = 0; i < n; ++i) y[i] = static_cast<double>(i) * step + lo;
  y[n - 1] = hi;
  return y;
}

// a: [n] -> sum in numpy's pairwise order (umath loops_utils pairwise_sum, blocks of 128 with
// 8 accumulators), so np.sum / np.mean are reproduced to the last bit.
double NumpySum(const double* a, size_t n) {
  if (n < 8) {
    double res = 0.;
    for (size_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j];
    size_t i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (int j = 0; j < 8; ++j) r[j] += a[i + j];
    }
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  size_t n2 = n / 2;
  n2 -= n2 % 8;
  return NumpySum(a, n2) + NumpySum(a + n2, n - n2);
}

// values: [n] -> np.mean(values[values > -1]) or -1 when none (cocoeval.py summarize).
double MeanOfDefined(const std::vector<double>& values) {
  std::vector<double> kept;
  kept.reserve(values.size());
  for (double v : values) {
    if (v > -1) kept.push_back(v);
  }
  if (kept.empty()) return -1;
  return NumpySum(kept.data(), kept.size()) / static_cast<double>(kept.size());
}

// ---- JSON field access with errors that name the file and the field ----------------------

[[noreturn]] void Fail(const std::string& file, const std::string& field, const std::string& what) {
  throw Error(file + ": " + field + ": " + what);
}

double ToNumber(const Json& v, const std::string& file, const std::string& field) {
  if (!v.is_number()) Fail(file, field, std::string("expected a number, found ") + v.type_name());
  const double d = v.get<double>();
  if (!std::isfinite(d)) Fail(file, field, "not a finite number");
  return d;
}

// Integer ids; integral floats (785.0) are accepted because Python dict lookups treat them
// as the same key.
int64_t ToInteger(const Json& v, const std::string& file, const std::string& field) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      Fail(file, field, "integer out of range");
    }
    return static_cast<int64_t>(u);
  }
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 9007199254740992.0) {
      return static_cast<int64_t>(d);
    }
  }
  Fail(file, field, std::string("expected an integer, found ") + v.dump());
}

// A whole file, read-only, memory-mapped: a val2017 result file is ~50 MB, and copying it
// through read() + a zero-filled buffer costs about as much as evaluating it.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
    struct stat st;
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd_);
      throw Error(path + ": not a regular file");
    }
    size_ = static_cast<size_t>(st.st_size);
    if (size_ > 0) {
      data_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
      if (data_ == MAP_FAILED) {
        const int err = errno;
        ::close(fd_);
        throw Error(path + ": cannot map: " + std::strerror(err));
      }
      ::madvise(data_, size_, MADV_SEQUENTIAL);
    }
  }
  ~MappedFile() {
    if (size_ > 0) ::munmap(data_, size_);
    ::close(fd_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  std::string_view text() const {
    return size_ ? std::string_view(static_cast<const char*>(data_), size_) : std::string_view();
  }

 private:
  std::string path_;
  int fd_ = -1;
  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace

std::vector<double> CocoSigmas() {
  std::vector<double> s(kCocoSigmasTimes10.size());
  for (size_t i = 0; i < s.size(); ++i) s[i] = kCocoSigmasTimes10[i] / 10.0;
  return s;
}

namespace {

// A "keypoints" or "bbox" value as the streaming parser saw it.
struct NumberList {
  bool present = false;
  bool is_array = false;
  std::string non_array_type;  // type name when the value is not an array
  std::vector<double> values;  // the numbers, in order
  size_t count = 0;            // elements, numbers or not
  int64_t bad_index = -1;      // first element that is not a finite number
  std::string bad_what;
  void Reset() {
    present = is_array = false;
    non_array_type.clear();
    values.clear();
    count = 0;
    bad_index = -1;
  }
  // One element that is a number (kept; the first non-finite one is recorded as bad).
  void AddNumber(double d) {
    if (!std::isfinite(d)) NoteBad("not a finite number");
    values.push_back(d);
    ++count;
  }
  // One element of another JSON type (recorded as bad if it is the first bad one).
  void AddOther(const char* type_name) {
    NoteBad(std::string("expected a number, found ") + type_name);
    ++count;
  }

 private:
  void NoteBad(std::string what) {
    if (bad_index >= 0) return;
    bad_index = static_cast<int64_t>(count);
    bad_what = std::move(what);
  }
};

// list -> out [expected], with the same checks and messages as ToNumbers.
void CheckNumbers(const NumberList& l, size_t expected, const std::string& file,
                  const std::string& field, std::vector<double>& out) {
  if (!l.present) Fail(file, field, "missing");
  if (!l.is_array) Fail(file, field, "expected an array, found " + l.non_array_type);
  if (l.count != expected) {
    Fail(file, field,
         "expected " + std::to_string(expected) + " numbers, found " + std::to_string(l.count));
  }
  if (l.bad_index >= 0) Fail(file, field + "[" + std::to_string(l.bad_index) + "]", l.bad_what);
  out = l.values;
}

// Streaming (SAX) reader of an annotation file: keeps image ids, category ids and keypoint
// name counts, and per annotation the fields keypoint evaluation uses; skips everything
// else ("segmentation" polygons/RLE are most of a person_keypoints file). Validation runs
// afterwards (categories usually come after the annotations in COCO files).
class AnnotationReader {
 public:
  using number_integer_t = Json::number_integer_t;
  using number_unsigned_t = Json::number_unsigned_t;
  using number_float_t = Json::number_float_t;
  using string_t = Json::string_t;
  using binary_t = Json::binary_t;

  // One element of images / categories / annotations. Scalars keep their JSON value (typed
  // errors later); `keypoints` and `bbox` are number lists (for a category, `keypoints`
  // counts the names).
  struct Element {
    Json id, image_id, category_id, iscrowd, num_keypoints, area;
    bool seen[6] = {};
    NumberList keypoints, bbox;
  };
  enum Field {
    kId,
    kImageId,
    kCategoryId,
    kIsCrowd,
    kNumKeypoints,
    kArea,
    kKeypoints,
    kBbox,
    kOtherField
  };
  enum Section { kImages, kCategories, kAnnotations, kOtherSection };
  static constexpr const char* kSectionNames[3] = {"images", "categories", "annotations"};

  explicit AnnotationReader(const std::string& name) : name_(name) {}

  bool seen_section[3] = {};
  std::vector<Element> sections[3];

  bool null() { return Scalar(Json(nullptr)); }
  bool boolean(bool v) { return Scalar(Json(v)); }
  bool number_integer(number_integer_t v) { return Number(static_cast<double>(v), Json(v)); }
  bool number_unsigned(number_unsigned_t v) { return Number(static_cast<double>(v), Json(v)); }
  bool number_float(number_float_t v, const string_t&) { return Number(v, Json(v)); }
  bool string(string_t& v) { return Scalar(Json(v)); }
  bool binary(binary_t&) { return Scalar(Json(Json::value_t::binary)); }
  bool start_object(std::size_t) { return Open(false); }
  bool start_array(std::size_t) { return Open(true); }
  bool key(string_t& k) {
    if (skip_ > 0) return true;
    if (depth_ == 1) section_ = SectionOf(k);
    if (depth_ == 3) field_ = FieldOf(k);
    return true;
  }
  bool end_object() {
    if (skip_ > 0) return --skip_, true;
    --depth_;  // 3 -> 2: the element is complete; 1 -> 0: the root
    return true;
  }
  bool end_array() {
    if (skip_ > 0) return --skip_, true;
    --depth_;  // 4 -> 3: a list; 2 -> 1: a section
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    throw Error(name_ + ": not valid JSON: " + e.what());
  }

 private:
  static Section SectionOf(const std::string& k) {
    if (k == "images") return kImages;
    if (k == "categories") return kCategories;
    if (k == "annotations") return kAnnotations;
    return kOtherSection;
  }
  static Field FieldOf(const std::string& k) {
    static const char* kNames[] = {"id",   "image_id",  "category_id", "iscrowd", "num_keypoints",
                                   "area", "keypoints", "bbox"};
    for (int i = 0; i < 8; ++i) {
      if (k == kNames[i]) return static_cast<Field>(i);
    }
    return kOtherField;
  }
  std::string Where() const {
    return std::string(kSectionNames[section_]) + "[" +
           std::to_string(sections[section_].size() - 1) + "]";
  }
  NumberList* List() {
    Element& e = sections[section_].back();
    return field_ == kKeypoints ? &e.keypoints : field_ == kBbox ? &e.bbox : nullptr;
  }

  bool Scalar(const Json& v) {
    if (skip_ > 0) return true;
    switch (depth_) {
      case 0:
        Fail(name_, "(top level)", std::string("expected an object, found ") + v.type_name());
      case 1:
        if (section_ != kOtherSection) {
          Fail(name_, kSectionNames[section_],
               std::string("expected an array, found ") + v.type_name());
        }
        return true;
      case 2:
        sections[section_].emplace_back();
        Fail(name_, Where(), std::string("expected an object, found ") + v.type_name());
      case 3: {
        if (NumberList* l = List()) {
          l->Reset();
          l->present = true;
          l->non_array_type = v.type_name();
        } else if (field_ < kKeypoints) {
          Element& e = sections[section_].back();
          Json* slots[6] = {&e.id,      &e.image_id,      &e.category_id,
                            &e.iscrowd, &e.num_keypoints, &e.area};
          *slots[field_] = v;
          e.seen[field_] = true;
        }
        return true;
      }
      default: {  // 4: an element of a list
        List()->AddOther(v.type_name());
        return true;
      }
    }
  }

  bool Number(double d, const Json& v) {
    if (skip_ == 0 && depth_ == 4) {
      List()->AddNumber(d);
      return true;
    }
    return Scalar(v);
  }

  bool Open(bool array) {
    if (skip_ > 0) return ++skip_, true;
    switch (depth_) {
      case 0:
        if (array) Fail(name_, "(top level)", "expected an object, found array");
        depth_ = 1;
        return true;
      case 1:
        if (section_ == kOtherSection) return skip_ = 1, true;
        if (!array) Fail(name_, kSectionNames[section_], "expected an array, found object");
        if (seen_section[section_]) Fail(name_, kSectionNames[section_], "appears twice");
        seen_section[section_] = true;
        depth_ = 2;
        return true;
      case 2:
        sections[section_].emplace_back();
        if (array) Fail(name_, Where(), "expected an object, found array");
        field_ = kOtherField;
        depth_ = 3;
        return true;
      case 3:
        if (NumberList* l = List(); l != nullptr && array) {
          l->Reset();
          l->present = l->is_array = true;
          depth_ = 4;
          return true;
        }
        Scalar(Json(array ? Json::value_t::array : Json::value_t::object));
        return skip_ = 1, true;
      default:  // a container inside a list: a bad element
        Scalar(Json(array ? Json::value_t::array : Json::value_t::object));
        return skip_ = 1, true;
    }
  }

  const std::string& name_;
  int depth_ = 0;  // 1 root object, 2 section array, 3 element object, 4 list
  int skip_ = 0;   // depth inside a skipped container
  Section section_ = kOtherSection;
  Field field_ = kOtherField;
};

const Json& Seen(const AnnotationReader::Element& e, AnnotationReader::Field f, const Json& v,
                 const std::string& file, const std::string& where, const char* key) {
  if (!e.seen[f]) Fail(file, where + "." + key, "missing");
  return v;
}

}  // namespace

// ---- loading ----------------------------------------------------------------------------

KeypointDataset ParseKeypointDataset(std::string_view json_text, const std::string& name) {
  using R = AnnotationReader;
  R reader(name);
  Json::sax_parse(json_text.begin(), json_text.end(), &reader);
  for (int s = 0; s < 3; ++s) {
    if (!reader.seen_section[s]) Fail(name, R::kSectionNames[s], "missing");
  }
  KeypointDataset ds;
  ds.path = name;

  std::unordered_set<int64_t> image_set;
  const std::vector<R::Element>& images = reader.sections[R::kImages];
  for (size_t i = 0; i < images.size(); ++i) {
    const std::string where = "images[" + std::to_string(i) + "]";
    const int64_t id =
        ToInteger(Seen(images[i], R::kId, images[i].id, name, where, "id"), name, where + ".id");
    if (!image_set.insert(id).second) {
      Fail(name, where + ".id", "duplicate image id " + std::to_string(id));
    }
    ds.image_ids.push_back(id);
  }
  std::sort(ds.image_ids.begin(), ds.image_ids.end());

  const std::vector<R::Element>& cats = reader.sections[R::kCategories];
  if (cats.empty()) Fail(name, "categories", "empty: no keypoint category");
  std::unordered_set<int64_t> cat_set;
  for (size_t i = 0; i < cats.size(); ++i) {
    const std::string where = "categories[" + std::to_string(i) + "]";
    const int64_t id =
        ToInteger(Seen(cats[i], R::kId, cats[i].id, name, where, "id"), name, where + ".id");
    if (!cat_set.insert(id).second) {
      Fail(name, where + ".id", "duplicate category id " + std::to_string(id));
    }
    const NumberList& names = cats[i].keypoints;  // counts the names
    if (!names.present) Fail(name, where + ".keypoints", "missing");
    if (!names.is_array) {
      Fail(name, where + ".keypoints", "expected an array, found " + names.non_array_type);
    }
    const int k = static_cast<int>(names.count);
    if (k == 0) Fail(name, where + ".keypoints", "empty: not a keypoint category");
    if (i > 0 && k != ds.num_keypoints) {
      Fail(name, where + ".keypoints",
           "has " + std::to_string(k) + " keypoints but categories[0] has " +
               std::to_string(ds.num_keypoints));
    }
    ds.num_keypoints = k;
    ds.category_ids.push_back(id);
  }
  std::sort(ds.category_ids.begin(), ds.category_ids.end());

  const std::vector<R::Element>& anns = reader.sections[R::kAnnotations];
  const size_t k3 = 3 * static_cast<size_t>(ds.num_keypoints);
  std::unordered_set<int64_t> ann_ids;
  ds.annotations.resize(anns.size());
  for (size_t i = 0; i < anns.size(); ++i) {
    const std::string where = "annotations[" + std::to_string(i) + "]";
    const R::Element& a = anns[i];
    GroundTruth& g = ds.annotations[i];
    g.id = ToInteger(Seen(a, R::kId, a.id, name, where, "id"), name, where + ".id");
    if (!ann_ids.insert(g.id).second) {
      Fail(name, where + ".id", "duplicate annotation id " + std::to_string(g.id));
    }
    g.image_id = ToInteger(Seen(a, R::kImageId, a.image_id, name, where, "image_id"), name,
                           where + ".image_id");
    if (!image_set.count(g.image_id)) {
      Fail(name, where + ".image_id", std::to_string(g.image_id) + " is not in images");
    }
    g.category_id = ToInteger(Seen(a, R::kCategoryId, a.category_id, name, where, "category_id"),
                              name, where + ".category_id");
    if (!cat_set.count(g.category_id)) {
      Fail(name, where + ".category_id", std::to_string(g.category_id) + " is not in categories");
    }
    const Json& crowd = Seen(a, R::kIsCrowd, a.iscrowd, name, where, "iscrowd");
    if (crowd.is_boolean()) {
      g.iscrowd = crowd.get<bool>();
    } else {
      const int64_t c = ToInteger(crowd, name, where + ".iscrowd");
      if (c != 0 && c != 1) Fail(name, where + ".iscrowd", "expected 0 or 1");
      g.iscrowd = c == 1;
    }
    g.num_keypoints =
        ToInteger(Seen(a, R::kNumKeypoints, a.num_keypoints, name, where, "num_keypoints"), name,
                  where + ".num_keypoints");
    g.area = ToNumber(Seen(a, R::kArea, a.area, name, where, "area"), name, where + ".area");
    std::vector<double> bbox;
    CheckNumbers(a.bbox, 4, name, where + ".bbox", bbox);
    std::copy(bbox.begin(), bbox.end(), g.bbox.begin());
    CheckNumbers(a.keypoints, k3, name, where + ".keypoints", g.keypoints);
  }
  return ds;
}

KeypointDataset LoadKeypointDataset(const std::string& path) {
  const MappedFile file(path);
  return ParseKeypointDataset(file.text(), path);
}

namespace {

// Streaming (SAX) reader of a results list. A val2017 result file holds ~5M numbers; building
// nlohmann's DOM for it costs several times the evaluation, so each entry's fields are
// collected directly and validated when the entry closes.
class ResultsReader {
 public:
  using number_integer_t = Json::number_integer_t;
  using number_unsigned_t = Json::number_unsigned_t;
  using number_float_t = Json::number_float_t;
  using string_t = Json::string_t;
  using binary_t = Json::binary_t;

  ResultsReader(const std::string& name, const KeypointDataset& gt)
      : name_(name),
        gt_(gt),
        images_(gt.image_ids.begin(), gt.image_ids.end()),
        cats_(gt.category_ids.begin(), gt.category_ids.end()),
        k3_(3 * static_cast<size_t>(gt.num_keypoints)) {}

  std::vector<Detection> Take() {
    if (!done_) throw Error(name_ + ": unexpected end of the results list");
    return std::move(dets_);
  }

  bool null() { return Scalar(Json(nullptr)); }
  bool boolean(bool v) { return Scalar(Json(v)); }
  bool number_integer(number_integer_t v) { return Number(static_cast<double>(v), Json(v)); }
  bool number_unsigned(number_unsigned_t v) { return Number(static_cast<double>(v), Json(v)); }
  bool number_float(number_float_t v, const string_t&) { return Number(v, Json(v)); }
  bool string(string_t& v) { return Scalar(Json(v)); }
  bool binary(binary_t&) { return Scalar(Json(Json::value_t::binary)); }
  bool start_object(std::size_t) { return Open(Json::value_t::object); }
  bool start_array(std::size_t) { return Open(Json::value_t::array); }
  bool key(string_t& k) {
    if (skip_ == 0 && state_ == kInEntry) key_ = KeyOf(k);
    if (skip_ == 0 && state_ == kInEntry && k == "segmentation") has_segmentation_ = true;
    return true;
  }
  bool end_object() {
    if (skip_ > 0) return Close();
    // Only entries are objects we do not skip.
    FinishEntry();
    state_ = kInList;
    return true;
  }
  bool end_array() {
    if (skip_ > 0) return Close();
    if (state_ == kInNumbers) {
      state_ = kInEntry;
    } else {  // the top-level list
      state_ = kDone;
      done_ = true;
    }
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    throw Error(name_ + ": not valid JSON: " + e.what());
  }

 private:
  enum State { kTop, kInList, kInEntry, kInNumbers, kDone };
  enum Key { kOther, kImageId, kCategoryId, kScore, kKeypoints, kBbox };

  static Key KeyOf(const std::string& k) {
    if (k == "image_id") return kImageId;
    if (k == "category_id") return kCategoryId;
    if (k == "score") return kScore;
    if (k == "keypoints") return kKeypoints;
    if (k == "bbox") return kBbox;
    return kOther;
  }
  std::string Where() const { return "[" + std::to_string(dets_.size()) + "]"; }
  NumberList* List() { return key_ == kKeypoints ? &keypoints_ : key_ == kBbox ? &bbox_ : nullptr; }

  bool Scalar(const Json& v) {
    if (skip_ > 0) return true;
    switch (state_) {
      case kTop:
        Fail(name_, "(top level)", std::string("expected an array, found ") + v.type_name());
      case kInList:
        Fail(name_, Where(), std::string("expected an object, found ") + v.type_name());
      case kInEntry:
        if (NumberList* l = List()) {
          l->present = true;
          l->is_array = false;
          l->non_array_type = v.type_name();
        } else if (key_ == kImageId) {
          seen_[kImageId] = true;
          image_id_ = v;
        } else if (key_ == kCategoryId) {
          seen_[kCategoryId] = true;
          category_id_ = v;
        } else if (key_ == kScore) {
          seen_[kScore] = true;
          score_ = v;
        }
        return true;
      case kInNumbers: {
        List()->AddOther(v.type_name());
        return true;
      }
      case kDone:
        break;
    }
    Fail(name_, "(top level)", "data after the results list");
  }

  bool Number(double d, const Json& v) {
    if (skip_ == 0 && state_ == kInNumbers) {
      List()->AddNumber(d);
      return true;
    }
    return Scalar(v);
  }

  bool Open(Json::value_t type) {
    if (skip_ > 0) {
      ++skip_;
      return true;
    }
    const bool array = type == Json::value_t::array;
    switch (state_) {
      case kTop:
        if (!array) Fail(name_, "(top level)", "expected an array, found object");
        state_ = kInList;
        return true;
      case kInList:
        if (array) Fail(name_, Where(), "expected an object, found array");
        StartEntry();
        state_ = kInEntry;
        return true;
      case kInEntry:
        if (NumberList* l = List(); l != nullptr && array) {
          l->Reset();
          l->present = l->is_array = true;
          state_ = kInNumbers;
          return true;
        }
        // A container where a scalar is expected (or an unknown key): remember its type for
        // the message, skip its content.
        Scalar(Json(type));
        skip_ = 1;
        return true;
      case kInNumbers:
        Scalar(Json(type));  // a bad element
        skip_ = 1;
        return true;
      case kDone:
        break;
    }
    Fail(name_, "(top level)", "data after the results list");
  }

  bool Close() {
    --skip_;
    return true;
  }

  void StartEntry() {
    image_id_ = category_id_ = score_ = Json();
    std::fill(std::begin(seen_), std::end(seen_), false);
    keypoints_.Reset();
    bbox_.Reset();
    key_ = kOther;
  }

  void FinishEntry() {
    const size_t i = dets_.size();
    const std::string where = Where();
    if (i == 0) {
      // loadRes picks the branch from the first result: a non-empty "bbox" makes area = w*h
      // of that box for every result; otherwise area is that of the keypoint extents.
      use_bbox_ = bbox_.present && !(bbox_.is_array && bbox_.count == 0);
      if (!use_bbox_ && has_segmentation_) {
        Fail(name_, "[0].segmentation",
             "segmentation results are not supported (keypoint results expected)");
      }
    }
    Detection d;
    d.id = static_cast<int64_t>(i) + 1;
    if (!seen_[kImageId]) Fail(name_, where + ".image_id", "missing");
    d.image_id = ToInteger(image_id_, name_, where + ".image_id");
    if (!images_.count(d.image_id)) {
      Fail(name_, where + ".image_id",
           "unknown image_id " + std::to_string(d.image_id) + " (not in " + gt_.path + ")");
    }
    if (!seen_[kCategoryId]) Fail(name_, where + ".category_id", "missing");
    d.category_id = ToInteger(category_id_, name_, where + ".category_id");
    if (!cats_.count(d.category_id)) {
      Fail(name_, where + ".category_id",
           "unknown category_id " + std::to_string(d.category_id) + " (not in " + gt_.path + ")");
    }
    if (!seen_[kScore]) Fail(name_, where + ".score", "missing");
    d.score = ToNumber(score_, name_, where + ".score");
    CheckNumbers(keypoints_, k3_, name_, where + ".keypoints", d.keypoints);
    if (use_bbox_) {
      std::vector<double> bb;
      CheckNumbers(bbox_, 4, name_, where + ".bbox", bb);
      d.area = bb[2] * bb[3];
    } else {
      double x0 = d.keypoints[0], x1 = x0, y0 = d.keypoints[1], y1 = y0;
      for (size_t j = 3; j < k3_; j += 3) {
        x0 = std::min(x0, d.keypoints[j]);
        x1 = std::max(x1, d.keypoints[j]);
        y0 = std::min(y0, d.keypoints[j + 1]);
        y1 = std::max(y1, d.keypoints[j + 1]);
      }
      d.area = (x1 - x0) * (y1 - y0);
    }
    dets_.push_back(std::move(d));
  }

  const std::string& name_;
  const KeypointDataset& gt_;
  std::unordered_set<int64_t> images_, cats_;
  size_t k3_;
  State state_ = kTop;
  int skip_ = 0;  // depth inside a skipped container
  Key key_ = kOther;
  Json image_id_, category_id_, score_;
  bool seen_[6] = {};  // per Key: present in the current entry (a null value is present)
  NumberList keypoints_, bbox_;
  bool has_segmentation_ = false;
  bool use_bbox_ = false;
  bool done_ = false;
  std::vector<Detection> dets_;
};

}  // namespace

std::vector<Detection> ParseKeypointResults(std::string_view json_text, const std::string& name,
                                            const KeypointDataset& gt) {
  ResultsReader reader(name, gt);
  Json::sax_parse(json_text.begin(), json_text.end(), &reader);
  return reader.Take();
}

std::vector<Detection> LoadKeypointResults(const std::string& path, const KeypointDataset& gt) {
  const MappedFile file(path);
  return ParseKeypointResults(file.text(), path, gt);
}

// ---- OKS --------------------------------------------------------------------------------

double ComputeOks(std::span<const double> det_keypoints, const GroundTruth& gt,
                  std::span<const double> sigmas) {
  const size_t k = sigmas.size();
  if (det_keypoints.size() != 3 * k || gt.keypoints.size() != 3 * k) {
    throw Error("ComputeOks: expected " + std::to_string(3 * k) + " keypoint values, found " +
                std::to_string(det_keypoints.size()) + " (detection) and " +
                std::to_string(gt.keypoints.size()) + " (ground truth)");
  }
  const double* g = gt.keypoints.data();
  const double* d = det_keypoints.data();
  size_t visible = 0;
  for (size_t i = 0; i < k; ++i) visible += g[3 * i + 2] > 0;
  // Without labelled keypoints the distance is to the GT box grown to 3x its size
  // (cocoeval.py computeOks: x0 = x - w, x1 = x + 2w), over all K keypoints.
  const double bx0 = gt.bbox[0] - gt.bbox[2], bx1 = gt.bbox[0] + gt.bbox[2] * 2;
  const double by0 = gt.bbox[1] - gt.bbox[3], by1 = gt.bbox[1] + gt.bbox[3] * 2;
  const double area = gt.area + kSpacing1;
  // exp(-e) of the counted keypoints; a stack buffer for the usual K <= 64 (this runs for
  // every detection/GT pair).
  constexpr size_t kStackK = 64;
  double stack_terms[kStackK] = {};
  std::vector<double> heap_terms(k > kStackK ? k : 0);
  double* terms = k > kStackK ? heap_terms.data() : stack_terms;
  size_t num_terms = 0;
  for (size_t i = 0; i < k; ++i) {
    double dx, dy;
    if (visible > 0) {
      if (!(g[3 * i + 2] > 0)) continue;
      dx = d[3 * i] - g[3 * i];
      dy = d[3 * i + 1] - g[3 * i + 1];
    } else {
      dx = std::max(0.0, bx0 - d[3 * i]) + std::max(0.0, d[3 * i] - bx1);
      dy = std::max(0.0, by0 - d[3 * i + 1]) + std::max(0.0, d[3 * i + 1] - by1);
    }
    const double var = (sigmas[i] * 2) * (sigmas[i] * 2);
    // Same operation order as numpy: (dx^2 + dy^2) / vars / (area + eps) / 2.
    const double e = (dx * dx + dy * dy) / var / area / 2;
    terms[num_terms++] = std::exp(-e);
  }
  return NumpySum(terms, num_terms) / static_cast<double>(num_terms);
}

// ---- evaluation -------------------------------------------------------------------------

namespace {

// Per (category, area range): every kept detection of every image, in image order, with its
// outcome at each threshold; the input of accumulate().
struct Pool {
  std::vector<double> scores;                         // [N]
  std::vector<std::array<uint8_t, kNumIou>> per_det;  // [N][T]: an Outcome per threshold
  int64_t num_gt = 0;                                 // non-ignored GTs (npig)
};

enum Outcome : uint8_t { kIgnored = 0, kTruePositive = 1, kFalsePositive = 2 };

}  // namespace

KeypointEvalResult EvaluateKeypoints(const KeypointDataset& gt, const std::vector<Detection>& dets,
                                     const EvalParams& params) {
  const int k = gt.num_keypoints;
  std::vector<double> sigmas = params.sigmas;
  if (sigmas.empty()) {
    if (k != static_cast<int>(kCocoSigmasTimes10.size())) {
      throw Error(gt.path + ": categories[].keypoints: " + std::to_string(k) +
                  " keypoints, but the COCO sigmas cover 17; give per-keypoint sigmas");
    }
    sigmas = CocoSigmas();
  }
  if (static_cast<int>(sigmas.size()) != k) {
    throw Error(gt.path + ": categories[].keypoints: " + std::to_string(k) + " keypoints, but " +
                std::to_string(sigmas.size()) + " sigmas were given");
  }
  if (params.max_dets < 1) throw Error("EvaluateKeypoints: max_dets must be >= 1");

  KeypointEvalResult res;
  res.iou_thresholds = NumpyLinspace(kIouLo, kIouHi, kNumIou);
  res.recall_thresholds = NumpyLinspace(0.0, 1.0, kNumRecall);
  const int num_img = static_cast<int>(gt.image_ids.size());
  const int num_cat = static_cast<int>(gt.category_ids.size());
  res.num_categories = num_cat;
  res.num_images = num_img;
  res.max_dets = params.max_dets;

  // Group GTs and detections per (category, image), keeping file order inside each group.
  std::unordered_map<int64_t, int> img_index, cat_index;
  for (int i = 0; i < num_img; ++i) img_index[gt.image_ids[i]] = i;
  for (int c = 0; c < num_cat; ++c) cat_index[gt.category_ids[c]] = c;
  auto cell = [&](int64_t cat, int64_t img) -> size_t {
    auto ci = cat_index.find(cat);
    auto ii = img_index.find(img);
    if (ci == cat_index.end() || ii == img_index.end()) {
      throw Error("EvaluateKeypoints: image " + std::to_string(img) + " / category " +
                  std::to_string(cat) + " not in " + gt.path);
    }
    return static_cast<size_t>(ci->second) * num_img + ii->second;
  };
  std::vector<std::vector<int>> gts_in(static_cast<size_t>(num_cat) * num_img);
  std::vector<std::vector<int>> dts_in(gts_in.size());
  for (size_t i = 0; i < gt.annotations.size(); ++i) {
    gts_in[cell(gt.annotations[i].category_id, gt.annotations[i].image_id)].push_back(
        static_cast<int>(i));
  }
  for (size_t i = 0; i < dets.size(); ++i) {
    if (dets[i].keypoints.size() != 3 * static_cast<size_t>(k)) {
      throw Error("EvaluateKeypoints: detection " + std::to_string(dets[i].id) + " has " +
                  std::to_string(dets[i].keypoints.size()) + " keypoint values, expected " +
                  std::to_string(3 * k));
    }
    dts_in[cell(dets[i].category_id, dets[i].image_id)].push_back(static_cast<int>(i));
  }

  const int num_t = kNumIou;
  std::vector<double> thr(num_t);
  for (int t = 0; t < num_t; ++t) thr[t] = std::min(res.iou_thresholds[t], kMaxThreshold);

  std::vector<Pool> pools(static_cast<size_t>(num_cat) * kNumAreas);
  std::vector<double> oks;               // [D, G]
  std::vector<int> order;                // GT order for one area range: not ignored first
  std::vector<uint8_t> gt_taken;         // [G]
  std::vector<int64_t> matched_id;       // [T, D]: matched GT id, 0 = none (pycocotools dtm)
  std::vector<uint8_t> matched_ignored;  // [T, D]

  for (int c = 0; c < num_cat; ++c) {
    for (int im = 0; im < num_img; ++im) {
      const std::vector<int>& g_idx = gts_in[static_cast<size_t>(c) * num_img + im];
      std::vector<int> d_idx = dts_in[static_cast<size_t>(c) * num_img + im];
      if (g_idx.empty() && d_idx.empty()) continue;  // evaluateImg returns None
      // Highest score first, ties in file order (np.argsort(-score, kind='mergesort')).
      std::stable_sort(d_idx.begin(), d_idx.end(),
                       [&](int a, int b) { return dets[a].score > dets[b].score; });
      if (d_idx.size() > static_cast<size_t>(params.max_dets)) d_idx.resize(params.max_dets);
      const size_t num_d = d_idx.size(), num_g = g_idx.size();
      res.num_detections += static_cast<int64_t>(num_d);

      oks.assign(num_d * num_g, 0.0);
      for (size_t di = 0; di < num_d; ++di) {
        for (size_t gi = 0; gi < num_g; ++gi) {
          oks[di * num_g + gi] =
              ComputeOks(dets[d_idx[di]].keypoints, gt.annotations[g_idx[gi]], sigmas);
        }
      }

      for (int a = 0; a < kNumAreas; ++a) {
        const double lo = kAreaRanges[a][0], hi = kAreaRanges[a][1];
        // cocoeval.py _prepare: ignore = iscrowd, or (keypoints) num_keypoints == 0;
        // evaluateImg adds GTs outside the area range.
        auto gt_ignored = [&](int gi) {
          const GroundTruth& g = gt.annotations[g_idx[gi]];
          return g.iscrowd || g.num_keypoints == 0 || g.area < lo || g.area > hi;
        };
        order.clear();
        for (size_t gi = 0; gi < num_g; ++gi) {
          if (!gt_ignored(static_cast<int>(gi))) order.push_back(static_cast<int>(gi));
        }
        const size_t num_kept = order.size();
        for (size_t gi = 0; gi < num_g; ++gi) {
          if (gt_ignored(static_cast<int>(gi))) order.push_back(static_cast<int>(gi));
        }
        matched_id.assign(num_t * num_d, 0);
        matched_ignored.assign(num_t * num_d, 0);
        if (num_d > 0 && num_g > 0) {
          for (int t = 0; t < num_t; ++t) {
            gt_taken.assign(num_g, 0);
            for (size_t di = 0; di < num_d; ++di) {
              double best = thr[t];
              int m = -1;  // position in `order`
              for (size_t p = 0; p < num_g; ++p) {
                const GroundTruth& g = gt.annotations[g_idx[order[p]]];
                // A matched non-crowd GT is taken; a crowd GT absorbs any number.
                if (gt_taken[p] && !g.iscrowd) continue;
                // Once matched to a regular GT, never move to an ignored one.
                if (m > -1 && static_cast<size_t>(m) < num_kept && p >= num_kept) break;
                const double v = oks[di * num_g + order[p]];
                if (v < best) continue;  // ties go to the later GT, as in pycocotools
                best = v;
                m = static_cast<int>(p);
              }
              if (m == -1) continue;
              matched_ignored[t * num_d + di] = static_cast<size_t>(m) >= num_kept;
              matched_id[t * num_d + di] = gt.annotations[g_idx[order[m]]].id;
              gt_taken[m] = 1;
            }
          }
        }
        Pool& pool = pools[static_cast<size_t>(c) * kNumAreas + a];
        pool.num_gt += static_cast<int64_t>(num_kept);
        for (size_t di = 0; di < num_d; ++di) {
          const double darea = dets[d_idx[di]].area;
          const bool out_of_range = darea < lo || darea > hi;
          std::array<uint8_t, kNumIou> o{};
          for (int t = 0; t < num_t; ++t) {
            const int64_t id = matched_id[t * num_d + di];
            // pycocotools keeps the GT id in a float matrix and tests it against 0, so a match
            // to a GT whose id is 0 counts as unmatched; reproduced as is.
            bool ignored = matched_ignored[t * num_d + di] || (id == 0 && out_of_range);
            o[t] = ignored ? kIgnored : (id != 0 ? kTruePositive : kFalsePositive);
          }
          pool.scores.push_back(dets[d_idx[di]].score);
          pool.per_det.push_back(o);
        }
      }
    }
  }

  // accumulate(): per (category, area), all images' detections by score (stable over the
  // image-ordered concatenation), cumulative TP/FP, recall and enveloped precision sampled at
  // the 101 recall thresholds.
  const int num_r = kNumRecall;
  res.precision.assign(static_cast<size_t>(num_t) * num_r * num_cat * kNumAreas, -1.0);
  res.recall.assign(static_cast<size_t>(num_t) * num_cat * kNumAreas, -1.0);
  std::vector<size_t> rank;
  std::vector<double> rc, pr;
  for (int c = 0; c < num_cat; ++c) {
    for (int a = 0; a < kNumAreas; ++a) {
      const Pool& pool = pools[static_cast<size_t>(c) * kNumAreas + a];
      if (pool.num_gt == 0) continue;
      const size_t n = pool.scores.size();
      rank.resize(n);
      std::iota(rank.begin(), rank.end(), size_t{0});
      std::stable_sort(rank.begin(), rank.end(),
                       [&](size_t x, size_t y) { return pool.scores[x] > pool.scores[y]; });
      const double npig = static_cast<double>(pool.num_gt);
      for (int t = 0; t < num_t; ++t) {
        rc.resize(n);
        pr.resize(n);
        double tp = 0, fp = 0;
        for (size_t i = 0; i < n; ++i) {
          const uint8_t o = pool.per_det[rank[i]][t];
          tp += o == kTruePositive;
          fp += o == kFalsePositive;
          rc[i] = tp / npig;
          pr[i] = tp / (fp + tp + kSpacing1);
        }
        const size_t rec_at = (static_cast<size_t>(t) * num_cat + c) * kNumAreas + a;
        res.recall[rec_at] = n ? rc[n - 1] : 0.0;
        // Precision envelope: make it non-increasing in recall.
        for (size_t i = n; i-- > 1;) {
          if (pr[i] > pr[i - 1]) pr[i - 1] = pr[i];
        }
        for (int r = 0; r < num_r; ++r) {
          // np.searchsorted(rc, recThr, side='left'); past the end -> precision 0.
          const size_t idx = static_cast<size_t>(
              std::lower_bound(rc.begin(), rc.end(), res.recall_thresholds[r]) - rc.begin());
          const size_t at = ((static_cast<size_t>(t) * num_r + r) * num_cat + c) * kNumAreas + a;
          res.precision[at] = idx < n ? pr[idx] : 0.0;
        }
      }
    }
  }

  // summarize(): means over defined entries, numpy's element order (T, R, K).
  auto t_index = [&](double v) {
    for (int t = 0; t < num_t; ++t) {
      if (res.iou_thresholds[t] == v) return t;
    }
    return -1;  // summarize would select nothing and report -1
  };
  auto ap = [&](int only_t, int a) {
    std::vector<double> v;
    for (int t = 0; t < num_t; ++t) {
      if (only_t == -2 || t == only_t) {
        for (int r = 0; r < num_r; ++r) {
          for (int c = 0; c < num_cat; ++c) {
            v.push_back(
                res.precision[((static_cast<size_t>(t) * num_r + r) * num_cat + c) * kNumAreas +
                              a]);
          }
        }
      }
    }
    return MeanOfDefined(v);
  };
  auto ar = [&](int only_t, int a) {
    std::vector<double> v;
    for (int t = 0; t < num_t; ++t) {
      if (only_t == -2 || t == only_t) {
        for (int c = 0; c < num_cat; ++c) {
          v.push_back(res.recall[(static_cast<size_t>(t) * num_cat + c) * kNumAreas + a]);
        }
      }
    }
    return MeanOfDefined(v);
  };
  const int all = -2, t50 = t_index(0.5), t75 = t_index(0.75);
  res.stats = {ap(all, 0), ap(t50, 0), ap(t75, 0), ap(all, 1), ap(all, 2),
               ar(all, 0), ar(t50, 0), ar(t75, 0), ar(all, 1), ar(all, 2)};
  return res;
}

// ---- output -----------------------------------------------------------------------------

std::string FormatSummary(const KeypointEvalResult& result) {
  // cocoeval.py summarize: ' {:<18} {} @[ IoU={:<9} | area={:>6s} | maxDets={:>3d} ] = {:0.3f}'
  struct Line {
    bool ap;
    const char* iou;
    int area;
  };
  static constexpr Line kLines[10] = {
      {true, "0.50:0.95", 0},  {true, "0.50", 0},       {true, "0.75", 0},  {true, "0.50:0.95", 1},
      {true, "0.50:0.95", 2},  {false, "0.50:0.95", 0}, {false, "0.50", 0}, {false, "0.75", 0},
      {false, "0.50:0.95", 1}, {false, "0.50:0.95", 2}};
  std::string out;
  char buf[160];
  for (int i = 0; i < 10; ++i) {
    const Line& l = kLines[i];
    std::snprintf(buf, sizeof(buf), " %-18s %s @[ IoU=%-9s | area=%6s | maxDets=%3d ] = %0.3f\n",
                  l.ap ? "Average Precision" : "Average Recall", l.ap ? "(AP)" : "(AR)", l.iou,
                  kAreaLabels[l.area], result.max_dets, result.stats[i]);
    out += buf;
  }
  return out;
}

std::string SummaryJson(const KeypointEvalResult& result, const std::string& ann_path,
                        const std::string& results_path) {
  nlohmann::ordered_json j;
  j["annotations"] = ann_path;
  j["results"] = results_path;
  j["num_images"] = result.num_images;
  j["num_categories"] = result.num_categories;
  j["num_detections"] = result.num_detections;
  j["max_dets"] = result.max_dets;
  nlohmann::ordered_json stats = nlohmann::ordered_json::object();
  for (size_t i = 0; i < kStatNames.size(); ++i) stats[kStatNames[i]] = result.stats[i];
  j["stats"] = stats;
  j["iou_thresholds"] = result.iou_thresholds;
  return j.dump(2) + "\n";
}

// ---- command ----------------------------------------------------------------------------

namespace {

const char kEvalUsage[] =
    "usage: rtmo eval --ann ANN.json --results RES.json [--json OUT.json]\n"
    "                 [--sigmas s1,s2,...,sK] [--timing]\n"
    "\n"
    "COCO keypoint evaluation (OKS AP/AR), identical to pycocotools' COCOeval with\n"
    "iouType='keypoints': prints the 10 standard numbers.\n"
    "  --ann FILE      COCO keypoint annotations (e.g. person_keypoints_val2017.json)\n"
    "  --results FILE  COCO results list [{image_id, category_id, keypoints, score}, ...]\n"
    "                  (written by `rtmo --coco-results`)\n"
    "  --json FILE     also write the numbers as JSON\n"
    "  --sigmas LIST   per-keypoint OKS sigmas, comma-separated (default: the COCO-17\n"
    "                  sigmas; needed for files with another number of keypoints)\n"
    "  --timing        print the time of each phase to stderr\n";

std::vector<double> ParseSigmas(const std::string& text) {
  std::vector<double> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t comma = std::min(text.find(',', pos), text.size());
    const std::string item = text.substr(pos, comma - pos);
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(item.c_str(), &end);
    if (item.empty() || end != item.c_str() + item.size() || errno != 0 || !std::isfinite(v) ||
        v <= 0) {
      throw std::invalid_argument("--sigmas: '" + item + "' is not a positive number");
    }
    out.push_back(v);
    pos = comma + 1;
  }
  return out;
}

}  // namespace

int RunEvalCommand(const std::vector<std::string>& args) {
  std::string ann, results, json_out;
  bool timing = false;
  EvalParams params;
  try {
    for (size_t i = 0; i < args.size(); ++i) {
      std::string opt = args[i], value;
      bool has_value = false;
      if (opt == "-h" || opt == "--help") {
        std::cout << kEvalUsage;
        return 0;
      }
      if (opt == "--timing") {
        timing = true;
        continue;
      }
      const size_t eq = opt.find('=');
      if (opt.rfind("--", 0) == 0 && eq != std::string::npos) {
        value = opt.substr(eq + 1);
        opt = opt.substr(0, eq);
        has_value = true;
      }
      if (opt != "--ann" && opt != "--results" && opt != "--json" && opt != "--sigmas") {
        throw std::invalid_argument("unknown argument '" + args[i] + "'");
      }
      if (!has_value) {
        if (i + 1 >= args.size()) throw std::invalid_argument(opt + ": missing value");
        value = args[++i];
      }
      if (value.empty()) throw std::invalid_argument(opt + ": empty value");
      if (opt == "--ann") ann = value;
      if (opt == "--results") results = value;
      if (opt == "--json") json_out = value;
      if (opt == "--sigmas") params.sigmas = ParseSigmas(value);
    }
    if (ann.empty()) throw std::invalid_argument("--ann is required");
    if (results.empty()) throw std::invalid_argument("--results is required");
  } catch (const std::invalid_argument& e) {
    std::cerr << "rtmo eval: " << e.what() << "\n" << kEvalUsage;
    return 2;
  }
  try {
    using Clock = std::chrono::steady_clock;
    // Wall and CPU time per phase (CPU time tells more on a busy machine).
    const auto t0 = Clock::now();
    const std::clock_t c0 = std::clock();
    const KeypointDataset gt = LoadKeypointDataset(ann);
    const auto t1 = Clock::now();
    const std::clock_t c1 = std::clock();
    const std::vector<Detection> dets = LoadKeypointResults(results, gt);
    const auto t2 = Clock::now();
    const std::clock_t c2 = std::clock();
    const KeypointEvalResult res = EvaluateKeypoints(gt, dets, params);
    const auto t3 = Clock::now();
    const std::clock_t c3 = std::clock();
    std::cout << FormatSummary(res) << std::flush;
    if (timing) {
      auto ms = [](auto a, auto b) {
        return std::chrono::duration<double, std::milli>(b - a).count();
      };
      auto cpu = [](std::clock_t a, std::clock_t b) { return 1e3 * (b - a) / CLOCKS_PER_SEC; };
      std::fprintf(
          stderr,
          "rtmo eval: %zu images, %zu annotations, %zu detections\n"
          "rtmo eval: wall ms: annotations %.1f, results %.1f, evaluation %.1f, total %.1f\n"
          "rtmo eval: cpu  ms: annotations %.1f, results %.1f, evaluation %.1f, total %.1f\n",
          gt.image_ids.size(), gt.annotations.size(), dets.size(), ms(t0, t1), ms(t1, t2),
          ms(t2, t3), ms(t0, t3), cpu(c0, c1), cpu(c1, c2), cpu(c2, c3), cpu(c0, c3));
    }
    if (!json_out.empty()) {
      std::ofstream out(json_out, std::ios::binary);
      if (!out) throw Error(json_out + ": cannot open for writing: " + std::strerror(errno));
      out << SummaryJson(res, ann, results);
      out.close();
      if (!out) throw Error(json_out + ": write failed");
    }
  } catch (const Error& e) {
    std::cerr << "rtmo eval: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

int RunEvalCommand(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  return RunEvalCommand(args);
}

}  // namespace rtmo
