#include "rtmo/cli/report.h"

#include <cctype>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "rtmo/cli/files.h"
#include "rtmo/error.h"

namespace rtmo::cli {
namespace {

// ordered_json keeps keys in insertion order (file, width, height, people), as the
// reference writes them; readers do not care, people do.
using json = nlohmann::ordered_json;

json PersonJson(const Person& p) {
  json kpts = json::array();
  for (const Keypoint& k : p.keypoints) kpts.push_back({k.x, k.y, k.score});
  return {{"bbox", {p.bbox[0], p.bbox[1], p.bbox[2], p.bbox[3]}},
          {"score", p.score},
          {"keypoints", std::move(kpts)}};
}

json RecordJson(const ImageResult& im) {
  json people = json::array();
  for (const Person& p : im.people) people.push_back(PersonJson(p));
  json r = json::object();
  r["file"] = im.file;
  r["width"] = im.width;
  r["height"] = im.height;
  r["people"] = std::move(people);
  return r;
}

}  // namespace

std::string ImageRecordJson(const ImageResult& image) { return RecordJson(image).dump() + "\n"; }

// Layout: one image record (or one COCO result) per line. Pretty-printing every number on
// its own line makes a 5000-image file unreadable; one line each keeps it greppable and
// diffable.
std::string PredictionsJsonHead(const std::string& model) {
  return "{\"model\": " + json(model).dump() + ",\n\"images\": [";
}

std::string PredictionsJsonRecord(const ImageResult& image, bool first) {
  return (first ? "\n " : ",\n ") + RecordJson(image).dump();
}

std::string PredictionsJsonTail(const std::vector<InputError>& errors, bool interrupted) {
  std::string out = "\n],\n\"errors\": [";
  for (size_t i = 0; i < errors.size(); ++i) {
    const json e = {{"file", errors[i].file}, {"error", errors[i].error}};
    out += (i ? ",\n " : "\n ") + e.dump();
  }
  out += std::string("\n],\n\"interrupted\": ") + (interrupted ? "true" : "false") + "}\n";
  return out;
}

std::string PredictionsJson(const std::string& model, const std::vector<ImageResult>& images,
                            const std::vector<InputError>& errors) {
  std::string out = PredictionsJsonHead(model);
  for (size_t i = 0; i < images.size(); ++i) out += PredictionsJsonRecord(images[i], i == 0);
  return out + PredictionsJsonTail(errors, false);
}

std::map<std::string, int64_t> LoadCocoImageIds(const std::string& ann_path) {
  json doc;
  try {
    doc = json::parse(ReadFile(ann_path));
  } catch (const json::exception& e) {
    throw Error(ann_path + ": not valid JSON: " + e.what());
  }
  if (!doc.is_object() || !doc.contains("images") || !doc["images"].is_array()) {
    throw Error(ann_path + ": expected a COCO annotation file with an \"images\" array");
  }
  std::map<std::string, int64_t> ids;
  size_t i = 0;
  for (const json& im : doc["images"]) {
    const std::string where = ann_path + ": images[" + std::to_string(i++) + "]";
    if (!im.is_object() || !im.contains("file_name") || !im["file_name"].is_string()) {
      throw Error(where + ".file_name: expected a string");
    }
    if (!im.contains("id") || !im["id"].is_number_integer()) {
      throw Error(where + ".id: expected an integer");
    }
    const std::string name = im["file_name"].get<std::string>();
    const int64_t id = im["id"].get<int64_t>();
    if (auto [it, fresh] = ids.emplace(name, id); !fresh && it->second != id) {
      throw Error(where + ".file_name: '" + name + "' appears twice with different ids");
    }
  }
  return ids;
}

int64_t CocoImageId(const std::string& path, const std::map<std::string, int64_t>* ids) {
  const std::filesystem::path p(path);
  if (ids != nullptr) {
    const auto it = ids->find(p.filename().native());
    if (it == ids->end()) {
      throw Error(path + ": file name '" + p.filename().native() +
                  "' is not in the --coco-ann images");
    }
    return it->second;
  }
  const std::string stem = p.stem().native();
  bool numeric = !stem.empty() && stem.size() <= 18;
  for (char c : stem) numeric = numeric && std::isdigit(static_cast<unsigned char>(c));
  if (!numeric) {
    throw Error(path +
                ": no COCO image id: the file name is not a number (like "
                "000000000785.jpg); pass --coco-ann ANN.json to look ids up by file name");
  }
  return std::stoll(stem);
}

std::string CocoResultsRecords(const ImageResult& image, int64_t image_id, bool* first) {
  std::string out;
  for (const Person& p : image.people) {
    json kpts = json::array();
    for (const Keypoint& k : p.keypoints) {
      kpts.push_back(k.x);
      kpts.push_back(k.y);
      kpts.push_back(k.score);
    }
    json r = json::object();
    r["image_id"] = image_id;
    r["category_id"] = 1;  // person
    r["keypoints"] = std::move(kpts);
    r["score"] = p.score;
    // mmpose adds the box as xywh (CocoMetric.process: bbox_xyxy2xywh).
    r["bbox"] = {p.bbox[0], p.bbox[1], p.bbox[2] - p.bbox[0], p.bbox[3] - p.bbox[1]};
    out += (*first ? "\n" : ",\n") + r.dump();
    *first = false;
  }
  return out;
}

std::string CocoResultsJson(const std::vector<ImageResult>& images,
                            const std::vector<int64_t>& image_ids) {
  std::string out = "[";
  bool first = true;
  for (size_t i = 0; i < images.size(); ++i)
    out += CocoResultsRecords(images[i], image_ids[i], &first);
  return out + "\n]\n";
}

}  // namespace rtmo::cli
