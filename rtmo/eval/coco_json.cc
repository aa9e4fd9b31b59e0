// Reading COCO keypoint annotation and result files; see coco_json.h for the semantics and
// the pycocotools references.
#include "rtmo/eval/coco_json.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <unordered_set>

#include "rtmo/error.h"

namespace rtmo {
namespace {

using Json = nlohmann::json;

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

// The scalar events of nlohmann's SAX interface, shared by both readers: every scalar goes to
// Reader::Scalar(value), numbers to Reader::Number(value as double, value). CRTP, so the ~5M
// numbers of a results file cost no virtual call.
template <typename Reader>
class SaxScalars {
 public:
  using number_integer_t = Json::number_integer_t;
  using number_unsigned_t = Json::number_unsigned_t;
  using number_float_t = Json::number_float_t;
  using string_t = Json::string_t;
  using binary_t = Json::binary_t;

  bool null() { return self().Scalar(Json(nullptr)); }
  bool boolean(bool v) { return self().Scalar(Json(v)); }
  bool number_integer(number_integer_t v) { return self().Number(static_cast<double>(v), Json(v)); }
  bool number_unsigned(number_unsigned_t v) {
    return self().Number(static_cast<double>(v), Json(v));
  }
  bool number_float(number_float_t v, const string_t&) { return self().Number(v, Json(v)); }
  bool string(string_t& v) { return self().Scalar(Json(v)); }
  bool binary(binary_t&) { return self().Scalar(Json(Json::value_t::binary)); }

 private:
  Reader& self() { return static_cast<Reader&>(*this); }
};

// Streaming (SAX) reader of an annotation file: keeps image ids, category ids and keypoint
// name counts, and per annotation the fields keypoint evaluation uses; skips everything
// else ("segmentation" polygons/RLE are most of a person_keypoints file). Validation runs
// afterwards (categories usually come after the annotations in COCO files).
class AnnotationReader : public SaxScalars<AnnotationReader> {
 public:
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
  friend class SaxScalars<AnnotationReader>;  // calls Scalar and Number
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
class ResultsReader : public SaxScalars<ResultsReader> {
 public:
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
  friend class SaxScalars<ResultsReader>;  // calls Scalar and Number
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

}  // namespace rtmo
