#!/usr/bin/python3
"""End-to-end tests of the `rtmo` binary with a real (seeded) model from the goldens fixture.

  cli_e2e_test.py RTMO_BINARY DATA_DIR        (RTMO_GOLDENS in the environment)

* JSON: schema; exactly the numbers the model itself dumps (--dump predictions.json); and
  the PyTorch reference's predictions.json (goldens) on the four test PNGs within the
  network's end-to-end bounds (model_golden_test.cc: boxes 0.05 px, scores 1e-4, keypoint
  median 0.05 px, < 5% beyond 1 px; near-tie order swaps allowed);
* COCO results: ids from numeric names and from --coco-ann, accepted by `rtmo eval`;
* drawing: same size as the input, keypoint colours where keypoints above --kpt-thr are;
* bad input in the middle of a batch, bad/missing weights, unknown option, --dump,
  --threads 1 vs 2 identical.
Needs numpy and OpenCV (Debian python3-numpy, python3-opencv), not torch.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import cv2
import numpy as np

RTMO = None
DATA = None
GOLDENS = os.environ.get("RTMO_GOLDENS", "")
STEMS = ["000000000785", "000000040083", "000000196141", "000000197388"]

# mmpose v1.3.2 configs/_base_/datasets/coco.py keypoint colours (RGB).
BLUE, GREEN, ORANGE = (51, 153, 255), (0, 255, 0), (255, 128, 0)
KPT_RGB = [BLUE] * 5 + [GREEN, ORANGE] * 6


def run(args, cwd=None, timeout=600, env=None):
    p = subprocess.run([RTMO] + args, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                       env=env)
    return p.returncode, p.stdout, p.stderr


class CliE2E(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.model = os.path.join(GOLDENS, "rtmo-s", "model.rtmo")
        if not os.path.isfile(cls.model):
            raise RuntimeError("goldens fixture missing: %s (set RTMO_GOLDENS)" % cls.model)
        cls.tmp = tempfile.mkdtemp(prefix="rtmo_cli_e2e_")
        cls.pngs = [os.path.join(DATA, "coco", s + ".png") for s in STEMS]
        # One run shared by several tests: JSON, COCO results, drawings.
        cls.out_json = os.path.join(cls.tmp, "pred.json")
        cls.out_coco = os.path.join(cls.tmp, "coco.json")
        cls.draw = os.path.join(cls.tmp, "drawn")
        cls.rc, _, cls.err = run(["--model", cls.model, "--json", cls.out_json,
                                  "--coco-results", cls.out_coco, "--draw", cls.draw,
                                  "--threads", "2"] + cls.pngs)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_json_matches_the_pytorch_reference(self):
        # The CLI adds no arithmetic to Model::Predict, so the reference comparison uses the
        # network's end-to-end bounds (tests/rtmo/model_golden_test.cc, EndToEnd: float32
        # noise of both PyTorch and C++ compounds through the network to ~1e-2 px on boxes,
        # ~5e-5 on scores; two scores closer than 1e-4 may swap). That the CLI reports
        # exactly what the model computed is checked in test_json_equals_the_model_dump.
        self.assertEqual(self.rc, 0, self.err)
        with open(self.out_json) as f:
            doc = json.load(f)
        self.assertEqual(list(doc.keys()), ["model", "images", "errors", "interrupted"])
        self.assertEqual(doc["model"], self.model)
        self.assertEqual(doc["errors"], [])
        self.assertIs(doc["interrupted"], False)
        self.assertEqual(len(doc["images"]), 4)
        total = 0
        for rec, stem, png in zip(doc["images"], STEMS, self.pngs):
            with open(os.path.join(GOLDENS, "rtmo-s", stem, "predictions.json")) as f:
                ref = json.load(f)
            self.assertEqual(list(rec.keys()), ["file", "width", "height", "people"])
            self.assertEqual(rec["file"], png)
            self.assertEqual(os.path.basename(rec["file"]), ref["file"])
            self.assertEqual((rec["width"], rec["height"]), (ref["width"], ref["height"]))
            self.assertEqual(len(rec["people"]), len(ref["people"]), stem)
            used, kd = set(), []
            for i, p in enumerate(rec["people"]):
                self.assertEqual(sorted(p.keys()), ["bbox", "keypoints", "score"])
                self.assertEqual(np.array(p["keypoints"]).shape, (17, 3))
                # The reference person with the nearest box among neighbours in order.
                cands = [k for k in range(max(0, i - 2), min(len(ref["people"]), i + 3))
                         if k not in used]
                k = min(cands, key=lambda k: np.abs(np.subtract(p["bbox"],
                                                                ref["people"][k]["bbox"])).max())
                used.add(k)
                q = ref["people"][k]
                where = "%s person %d (reference %d)" % (stem, i, k)
                if k != i:
                    self.assertLess(abs(q["score"] - ref["people"][i]["score"]), 1e-4, where)
                np.testing.assert_allclose(p["bbox"], q["bbox"], rtol=0, atol=0.05, err_msg=where)
                self.assertLess(abs(p["score"] - q["score"]), 1e-4, where)
                kp, kq = np.array(p["keypoints"]), np.array(q["keypoints"])
                kd.extend(np.hypot(*(kp[:, :2] - kq[:, :2]).T))
            if kd:
                self.assertLess(float(np.median(kd)), 0.05, stem)
                self.assertLess(float(np.mean(np.array(kd) > 1.0)), 0.05, stem)
            total += len(rec["people"])
        self.assertGreater(total, 0, "the seeded model should find people (goldens do)")
        self.assertIn("4 images, %d people" % total, self.err)

    def test_json_equals_the_model_dump(self):
        # --dump makes the model write its own predictions.json: the CLI's record for the
        # same image must carry exactly the same numbers (float32 printed round-trip).
        dump = os.path.join(self.tmp, "dump_eq")
        out = os.path.join(self.tmp, "eq.json")
        rc, _, err = run(["--model", self.model, "-q", "--dump", dump, "--json", out,
                          self.pngs[1]])
        self.assertEqual(rc, 0, err)
        with open(out) as f:
            rec = json.load(f)["images"][0]
        with open(os.path.join(dump, STEMS[1], "predictions.json")) as f:
            mine = json.load(f)
        self.assertEqual(len(rec["people"]), len(mine["people"]))
        self.assertGreater(len(rec["people"]), 0)
        for p, q in zip(rec["people"], mine["people"]):
            f32 = lambda v: np.asarray(v, dtype=np.float32)
            np.testing.assert_array_equal(f32(p["bbox"]), f32(q["bbox"]))
            np.testing.assert_array_equal(f32(p["score"]), f32(q["score"]))
            np.testing.assert_array_equal(f32(p["keypoints"]), f32(q["keypoints"]))

    def test_coco_results_accepted_by_the_evaluator(self):
        self.assertEqual(self.rc, 0, self.err)
        with open(self.out_coco) as f:
            res = json.load(f)
        with open(self.out_json) as f:
            doc = json.load(f)
        self.assertEqual(len(res), sum(len(im["people"]) for im in doc["images"]))
        ids = {int(s) for s in STEMS}
        for r in res:
            self.assertIn(r["image_id"], ids)
            self.assertEqual(r["category_id"], 1)
            self.assertEqual(len(r["keypoints"]), 51)
        # Instance score, as mmpose's CocoMetric(score_mode='bbox') writes it.
        first = doc["images"][0]["people"]
        if first:
            self.assertAlmostEqual(res[0]["score"], first[0]["score"], places=6)
        ann = os.path.join(DATA, "coco", "test_coco.json")
        rc, out, err = run(["eval", "--ann", ann, "--results", self.out_coco])
        self.assertEqual(rc, 0, err)
        self.assertIn("Average Precision", out)
        # Ids from --coco-ann, on the JPEGs (file names as in the annotation).
        jpgs = [os.path.join(DATA, "coco", s + ".jpg") for s in STEMS[:2]]
        res2 = os.path.join(self.tmp, "coco2.json")
        rc, _, err = run(["--model", self.model, "-q", "--coco-results", res2,
                          "--coco-ann", ann] + jpgs)
        self.assertEqual(rc, 0, err)
        with open(res2) as f:
            self.assertLessEqual({r["image_id"] for r in json.load(f)}, {785, 40083})

    def test_drawing_size_and_keypoint_colours(self):
        self.assertEqual(self.rc, 0, self.err)
        with open(self.out_json) as f:
            doc = json.load(f)
        self.assertEqual(sorted(os.listdir(self.draw)), [s + ".png" for s in STEMS])
        checked = 0
        for rec, stem, png in zip(doc["images"], STEMS, self.pngs):
            src = cv2.imread(png, cv2.IMREAD_COLOR)
            drawn = cv2.imread(os.path.join(self.draw, stem + ".png"), cv2.IMREAD_COLOR)
            self.assertEqual(drawn.shape, src.shape)
            if rec["people"]:
                self.assertGreater(int(np.count_nonzero(drawn != src)), 0)
            # The last person is drawn last: its keypoints above 0.3 show their colour unless
            # a later keypoint of the same person lies within a few pixels.
            if not rec["people"]:
                continue
            kp = np.array(rec["people"][-1]["keypoints"])
            h, w = src.shape[:2]
            for i, (x, y, s) in enumerate(kp):
                if s < 0.3 or not (3 <= x < w - 3 and 3 <= y < h - 3):
                    continue
                later = kp[i + 1:]
                near = (later[:, 2] >= 0.3) & (np.hypot(later[:, 0] - x, later[:, 1] - y) < 8)
                if near.any():
                    continue
                b, g, r = drawn[int(round(y)), int(round(x))]
                self.assertEqual((int(r), int(g), int(b)), KPT_RGB[i], "%s kpt %d" % (stem, i))
                checked += 1
        self.assertGreater(checked, 0, "no keypoint above 0.3 to check")

    def test_bad_image_in_the_middle_of_a_batch(self):
        d = os.path.join(self.tmp, "batch")
        os.makedirs(os.path.join(d, "sub"))
        shutil.copy(self.pngs[0], os.path.join(d, "a.png"))
        with open(self.pngs[1], "rb") as f:
            data = f.read()
        with open(os.path.join(d, "b_truncated.png"), "wb") as f:
            f.write(data[: len(data) // 2])
        with open(os.path.join(d, "sub", "c_not_an_image.jpg"), "w") as f:
            f.write("hello\n")
        shutil.copy(self.pngs[2], os.path.join(d, "sub", "d.png"))
        with open(os.path.join(d, "notes.txt"), "w") as f:
            f.write("ignored: not an image extension\n")
        out = os.path.join(self.tmp, "batch.json")
        rc, _, err = run(["--model", self.model, "--json", out, d])
        self.assertEqual(rc, 1)
        self.assertIn("b_truncated.png", err)
        self.assertIn("c_not_an_image.jpg", err)
        self.assertNotIn("notes.txt", err)
        self.assertIn("2 inputs FAILED", err)
        with open(out) as f:
            doc = json.load(f)
        self.assertEqual([os.path.relpath(im["file"], d) for im in doc["images"]],
                         ["a.png", "sub/d.png"])
        self.assertEqual(sorted(os.path.basename(e["file"]) for e in doc["errors"]),
                         ["b_truncated.png", "c_not_an_image.jpg"])

    def test_bad_and_missing_weights(self):
        out = os.path.join(self.tmp, "never.json")
        # Missing: the default model rtmo-s is neither in ./weights/ nor in the (empty) model
        # cache, and cannot be downloaded (a dead local port stands in for being offline;
        # never the outside network): says where to put it and how to get it.
        env = dict(os.environ, RTMO_HOME=os.path.join(self.tmp, "empty_cache"),
                   RTMO_WEIGHTS_BASE_URL="http://127.0.0.1:1")
        rc, _, err = run(["--json", out, self.pngs[0]], cwd=self.tmp, env=env)
        self.assertEqual(rc, 1)
        self.assertIn(os.path.join(self.tmp, "empty_cache", "rtmo-s.rtmo"), err)
        self.assertIn("weights/rtmo-s.rtmo", err)
        self.assertIn("tools/get_weights.sh", err)
        # Truncated and garbage files: one message naming the file, before any work.
        bad = os.path.join(self.tmp, "bad.rtmo")
        with open(self.model, "rb") as f:
            head = f.read(4096)
        for content in (head, b"not a model at all"):
            with open(bad, "wb") as f:
                f.write(content)
            rc, _, err = run(["--model", bad, "--json", out, self.pngs[0]])
            self.assertEqual(rc, 1)
            self.assertIn("bad.rtmo", err)
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertFalse(os.path.exists(out))

    def test_usage_errors(self):
        rc, _, err = run(["--bogus", self.pngs[0]])
        self.assertEqual(rc, 2)
        self.assertIn("unknown option '--bogus'", err)
        self.assertIn("usage: rtmo", err)
        rc, _, err = run([])
        self.assertEqual(rc, 2)
        rc, out, _ = run(["--help"])
        self.assertEqual(rc, 0)
        self.assertIn("--coco-results", out)
        rc, out, _ = run(["--version"])
        self.assertEqual(rc, 0)
        self.assertTrue(out.startswith("rtmo "))

    def test_threads_do_not_change_results_and_dump(self):
        outs = []
        for t in ("1", "2"):
            out = os.path.join(self.tmp, "t%s.json" % t)
            rc, _, err = run(["--model", self.model, "-q", "--threads", t, "--json", out,
                              self.pngs[0]])
            self.assertEqual(rc, 0, err)
            with open(out) as f:
                outs.append(f.read())
        self.assertEqual(outs[0], outs[1])
        dump = os.path.join(self.tmp, "dump")
        rc, _, err = run(["--model", self.model, "-q", "--dump", dump, self.pngs[0]])
        self.assertEqual(rc, 0, err)
        d = os.path.join(dump, STEMS[0])
        for name in ("input", "backbone.stem", "neck.out.0", "head.cls_score.0"):
            self.assertTrue(os.path.isfile(os.path.join(d, name + ".npy")), name)
        x = np.load(os.path.join(d, "input.npy"))
        self.assertEqual(x.shape, (1, 3, 640, 640))


def sha256_tree(root):
    """{relative path: sha256} of every file under root: inputs before == after."""
    import hashlib
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = hashlib.sha256(fh.read()).hexdigest()
    return out


class IssueCommands(unittest.TestCase):
    """The commands of issue 14, verbatim in spirit: each either works or refuses with a
    clear message, and every input stays byte-identical."""

    @classmethod
    def setUpClass(cls):
        cls.model = os.path.join(GOLDENS, "rtmo-s", "model.rtmo")
        if not os.path.isfile(cls.model):
            raise RuntimeError("goldens fixture missing: %s (set RTMO_GOLDENS)" % cls.model)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="rtmo_cli_issue14_")
        self.ow = os.path.join(self.tmp, "ow")
        os.makedirs(self.ow)
        shutil.copy(os.path.join(DATA, "coco", "000000040083.jpg"), os.path.join(self.ow, "a.jpg"))
        shutil.copy(os.path.join(DATA, "coco", "000000196141.jpg"), os.path.join(self.ow, "b.jpg"))
        self.before = sha256_tree(self.ow)

    def tearDown(self):
        self.assertEqual(sha256_tree(self.ow), self.before, "an input changed")
        shutil.rmtree(self.tmp, ignore_errors=True)

    def rtmo(self, *args):
        return run(["-m", self.model] + list(args), cwd=self.tmp)

    def test_json_value_taken_from_an_image(self):
        rc, out, err = self.rtmo("--json", "ow/a.jpg", "ow/b.jpg")
        self.assertEqual(rc, 1)
        self.assertIn("--json 'ow/a.jpg': expected a .json file name", err)
        self.assertIn("(nothing was processed)", err)

    def test_draw_into_the_input_directory(self):
        rc, _, err = self.rtmo("--draw", "ow", "ow/b.jpg")
        self.assertEqual(rc, 1)
        self.assertIn("the drawing of 'ow/b.jpg' would be 'ow/b.jpg', which is the input", err)

    def test_draw_inside_the_input_tree_twice(self):
        for _ in range(2):
            rc, _, err = self.rtmo("--draw", "ow/drawn", "ow")
            self.assertEqual(rc, 0, err)
            self.assertIn("rtmo: 2 images", err)  # never its own drawings
        self.assertEqual(sorted(os.listdir(os.path.join(self.ow, "drawn"))), ["a.jpg", "b.jpg"])
        self.before = {k: v for k, v in sha256_tree(self.ow).items()
                       if not k.startswith("drawn")}
        shutil.rmtree(os.path.join(self.ow, "drawn"))

    def test_unwritable_outputs_refused_before_any_image(self):
        os.makedirs(os.path.join(self.tmp, "out"))
        for dest, says in (("out", "is a directory: expected a file name"),
                           ("/proc/x.json", "cannot create a temporary file in '/proc'")):
            rc, _, err = self.rtmo("--json", dest, "ow")
            self.assertEqual(rc, 1)
            self.assertIn(says, err)
            self.assertIn("(nothing was processed)", err)
            self.assertNotIn("mean latency", err)

    def test_json_to_standard_output(self):
        rc, out, err = self.rtmo("--json", "-", "ow")
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        self.assertEqual(len(doc["images"]), 2)
        self.assertFalse(doc["interrupted"])
        self.assertIn("rtmo: 2 images", err)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "-")))

    def test_corrupted_weights_name_the_tensor(self):
        with open(self.model, "rb") as f:
            blob = bytearray(f.read())
        mid = len(blob) // 2
        for i in range(64):
            blob[mid + i] ^= 0xFF
        bad = os.path.join(self.tmp, "bad.rtmo")
        with open(bad, "wb") as f:
            f.write(blob)
        rc, _, err = run(["-m", bad, "--json", os.path.join(self.tmp, "x.json"), self.ow])
        self.assertEqual(rc, 1)
        self.assertIn("bad.rtmo: tensor '", err)
        self.assertIn("checksum: expected CRC-32 0x", err)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "x.json")))

    def test_empty_directory(self):
        # (A video INPUT alone is the video command's; tested with it.)
        os.makedirs(os.path.join(self.tmp, "empty"))
        rc, _, err = self.rtmo("empty")
        self.assertEqual(rc, 1)
        self.assertIn("empty: no images in this directory", err)

    def interrupt(self, sig, twice=False):
        import signal
        import time
        many = os.path.join(self.tmp, "many")
        os.makedirs(many)
        for i in range(40):
            shutil.copy(os.path.join(self.ow, "a.jpg"), os.path.join(many, "%02d.jpg" % i))
        out = os.path.join(self.tmp, "res.json")
        p = subprocess.Popen([RTMO, "-m", self.model, "-q", "--json", out, "--draw",
                              os.path.join(self.tmp, "drawn"), many],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        drawn = os.path.join(self.tmp, "drawn")
        deadline = time.time() + 300
        while time.time() < deadline:  # the first drawing: the loop is running
            if os.path.isdir(drawn) and any(f.endswith(".jpg") for f in os.listdir(drawn)):
                break
            time.sleep(0.05)
        p.send_signal(sig)
        if twice:
            p.send_signal(sig)
        _, err = p.communicate(timeout=300)
        leftovers = [f for d in (self.tmp, drawn) for f in os.listdir(d) if ".tmp." in f]
        self.assertEqual(leftovers, [])
        return p.returncode, err, out

    def test_sigint_writes_what_was_done_and_exits_130(self):
        import signal
        rc, err, out = self.interrupt(signal.SIGINT)
        self.assertEqual(rc, 130, err)
        self.assertIn("rtmo: interrupted by SIGINT after", err)
        with open(out) as f:
            doc = json.load(f)
        self.assertTrue(doc["interrupted"])
        self.assertGreaterEqual(len(doc["images"]), 1)
        self.assertLess(len(doc["images"]), 40)

    def test_sigterm_exits_143_and_a_second_signal_leaves_no_partial_file(self):
        import signal
        rc, err, out = self.interrupt(signal.SIGTERM)
        self.assertEqual(rc, 143, err)
        with open(out) as f:
            self.assertTrue(json.load(f)["interrupted"])
        os.remove(out)
        shutil.rmtree(os.path.join(self.tmp, "drawn"))
        shutil.rmtree(os.path.join(self.tmp, "many"))
        rc, err, out = self.interrupt(signal.SIGINT, twice=True)
        # The second signal may land before the first was handled (then both count as one
        # request); either way: 130 with a complete file, or death by SIGINT with none.
        if rc == 130:
            with open(out) as f:
                self.assertTrue(json.load(f)["interrupted"])
        else:
            self.assertEqual(rc, -signal.SIGINT, err)
            self.assertFalse(os.path.exists(out))


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    RTMO, DATA = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)
