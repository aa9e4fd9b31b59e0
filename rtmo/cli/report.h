// The `rtmo` command's result documents: --json and --coco-results.
#ifndef RTMO_CLI_REPORT_H_
#define RTMO_CLI_REPORT_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "rtmo/rtmo.h"

namespace rtmo::cli {

// One processed image.
struct ImageResult {
  std::string file;  // the path as discovered (argument or directory walk)
  int width = 0, height = 0;
  std::vector<Person> people;
};

// An input that could not be processed: its path and the error message.
struct InputError {
  std::string file, error;
};

// --json: {"model": model, "images": [record...], "errors": [{"file","error"}...]}, each
// record exactly the schema of the PyTorch reference's predictions.json (tools/reference/):
// {"file","width","height","people":[{"bbox":[x1,y1,x2,y2],"score":s,
// "keypoints":[[x,y,score] x K]}]}. Failed inputs are listed in "errors", not in "images".
std::string PredictionsJson(const std::string& model, const std::vector<ImageResult>& images,
                            const std::vector<InputError>& errors);

// The same document in pieces, so that a long run streams it (memory bounded by one
// record): Head, then Record(image, first) per image, then Tail. `interrupted` (always
// present) is true when a SIGINT/SIGTERM stopped the run: "images" then holds the images
// completed before it.
std::string PredictionsJsonHead(const std::string& model);
std::string PredictionsJsonRecord(const ImageResult& image, bool first);
std::string PredictionsJsonTail(const std::vector<InputError>& errors, bool interrupted);

// One predictions.json record (also what --dump writes per image).
std::string ImageRecordJson(const ImageResult& image);

// file_name -> image id from a COCO annotation file (images[].file_name, images[].id).
// Throws rtmo::Error naming the file and field if it is not such a file.
std::map<std::string, int64_t> LoadCocoImageIds(const std::string& ann_path);

// The COCO image id of `path`: by base name in `ids` when given (non-null), else the numeric
// stem (000000000785.jpg -> 785). Throws rtmo::Error naming the file if there is none.
int64_t CocoImageId(const std::string& path, const std::map<std::string, int64_t>* ids);

// --coco-results: the COCO keypoint results format as mmpose's CocoMetric.results2json
// writes it: [{"image_id", "category_id": 1, "keypoints": [x, y, score] * K flattened,
// "score", "bbox": [x, y, w, h]}]. `score` is the instance (box) score: RTMO's configs
// evaluate with CocoMetric(score_mode='bbox', nms_mode='none') (mmpose v1.3.2
// configs/body_2d_keypoint/rtmo/*/rtmo-*.py, val_evaluator), so no keypoint rescoring and
// no OKS-NMS; the third keypoint value is the keypoint score, as mmpose writes it.
// `image_ids[i]` is the id of images[i].
std::string CocoResultsJson(const std::vector<ImageResult>& images,
                            const std::vector<int64_t>& image_ids);
// The same array streamed: "[", then CocoResultsRecords per image (`*first` tracks the
// separator), then "\n]\n". (A JSON array has no room for an "interrupted" marker; the
// --json document and the exit status carry it.)
std::string CocoResultsRecords(const ImageResult& image, int64_t image_id, bool* first);

}  // namespace rtmo::cli

#endif  // RTMO_CLI_REPORT_H_
