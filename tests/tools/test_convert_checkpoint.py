#!/usr/bin/python3
"""tools/convert_checkpoint.py on checkpoints in the official RTMO layout (made with torch).

Every converted tensor is compared byte for byte with the torch tensor it came from, both
through the Python reader (convert_checkpoint.read_rtmo) and through the C++ reader
(the weights_info program, path in $RTMO_WEIGHTS_INFO, which also runs ValidateLayout).

    RTMO_WEIGHTS_INFO=build/tests/rtmo/weights_info /usr/bin/python3 -m unittest \
        tests/tools/test_convert_checkpoint.py
"""
import collections
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, os.pardir, os.pardir))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, HERE)
import convert_checkpoint as cc  # noqa: E402
from make_test_checkpoint import make_state_dict  # noqa: E402

CONVERTER = os.path.join(ROOT, "tools", "convert_checkpoint.py")
WEIGHTS_INFO = os.environ.get("RTMO_WEIGHTS_INFO", "")


def fingerprint(data):
    """The weights_info fingerprint: sum_i word_i * (2i+1) mod 2^64 over LE uint64 words."""
    data = data + b"\0" * (-len(data) % 8)
    w = np.frombuffer(data, dtype="<u8")
    idx = np.arange(len(w), dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    return int((w * idx).sum(dtype=np.uint64))


def realistic_meta(variant):
    # What mmengine/publish_model leave in meta: strings, ints, numpy arrays in
    # dataset_meta (exercises the converter's inert placeholders).
    return {
        "mmengine_version": "0.10.7",
        "experiment_name": "rtmo-%s_8xb32-600e_body7-640x640_20231211" % variant,
        "cfg": "train_dataloader = dict(dataset=dict(type='CombinedDataset', ...))",
        "dataset_meta": {
            "dataset_name": "coco",
            "sigmas": np.linspace(0.025, 0.107, 17).astype(np.float32),
            "keypoint_colors": np.zeros((17, 3), np.uint8),
            "flip_indices": [0, 2, 1, 4, 3],
        },
        "epoch": 600,
        "iter": 123456,
        "seed": 21,
    }


def run_converter(*args):
    return subprocess.run([sys.executable, CONVERTER, *args], capture_output=True, text=True)


class ConverterTestBase(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="rtmo_convert_test_")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, leaf):
        return os.path.join(self.dir, leaf)

    def save(self, obj, leaf, fmt):
        p = self.path(leaf)
        torch.save(obj, p, _use_new_zipfile_serialization=(fmt == "zip"))
        return p

    def convert_ok(self, src, *extra):
        dst = src + ".rtmo"
        r = run_converter(src, dst, *extra)
        self.assertEqual(r.returncode, 0, r.stderr)
        return dst, r

    def check_round_trip(self, sd, rtmo_path, variant, keypoints=17):
        """Every kept tensor's bytes equal the torch tensor's (Python and C++ readers)."""
        info = cc.read_rtmo(rtmo_path, with_data=True)
        kept = [k for k in sd if not cc.is_training_only(k)]
        self.assertEqual([t[0] for t in info["tensors"]], kept)
        self.assertEqual(info["config"]["variant"], variant)
        self.assertEqual(int(info["config"]["num_keypoints"]), keypoints)
        expect = {}
        for name, dtype, shape, offset, nbytes, data in info["tensors"]:
            ref = sd[name].detach().to(torch.float32).contiguous().numpy().tobytes()
            self.assertEqual(dtype, "float32", name)
            self.assertEqual(tuple(shape), tuple(sd[name].shape), name)
            self.assertEqual(offset % 64, 0, name)
            self.assertEqual(data, ref, name)
            expect[name] = ref
        if WEIGHTS_INFO:
            r = subprocess.run([WEIGHTS_INFO, rtmo_path], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            lines = r.stdout.splitlines()
            cfg = lines[0].split("\t")
            self.assertEqual(cfg[1], variant)
            self.assertEqual(int(cfg[5]), keypoints)
            # The converter's config block equals C++ ModelConfig::ForVariant's.
            self.assertEqual(cfg[6], "official", r.stdout.splitlines()[0])
            self.assertEqual(len(lines) - 1, len(kept))
            for i, line in enumerate(lines[1:]):
                name, dtype, shape, h = line.split("\t")
                self.assertEqual(name, kept[i])
                self.assertEqual(dtype, "float32", name)
                self.assertEqual(shape, str(list(sd[name].shape)), name)
                self.assertEqual(int(h, 16), fingerprint(expect[name]), name)


class RoundTrip(ConverterTestBase):
    """All four variants, both torch formats, wrapped in {'meta','state_dict'} and bare."""

    def one(self, variant, fmt, bare):
        sd = make_state_dict(variant, 17, seed=ord(variant))
        obj = sd if bare else {"meta": realistic_meta(variant), "state_dict": sd}
        src = self.save(obj, "%s_%s_%s.pth" % (variant, fmt, bare), fmt)
        dst, r = self.convert_ok(src)
        self.assertIn("rtmo-%s, 17 keypoints" % variant, r.stderr)
        self.assertIn("head.loss_oks.sigmas", r.stderr)
        self.assertIn("x *.num_batches_tracked", r.stderr)
        self.check_round_trip(sd, dst, variant)
        info = cc.read_rtmo(dst)
        self.assertEqual(info["config"]["dataset"], "" if bare else "body7")
        self.assertEqual(info["config"]["input_w"], "416" if variant == "t" else "640")

    def test_t_legacy_meta(self):
        self.one("t", "legacy", False)

    def test_t_zip_bare(self):
        self.one("t", "zip", True)

    def test_s_legacy_meta(self):
        self.one("s", "legacy", False)

    def test_s_legacy_bare(self):
        self.one("s", "legacy", True)

    def test_s_zip_meta(self):
        self.one("s", "zip", False)

    def test_s_zip_bare(self):
        self.one("s", "zip", True)

    def test_m_legacy_meta(self):
        self.one("m", "legacy", False)

    def test_m_zip_bare(self):
        self.one("m", "zip", True)

    def test_l_legacy_meta(self):
        self.one("l", "legacy", False)



class Views(ConverterTestBase):
    """Tensors that share storages, start at offsets, are transposed or broadcast."""

    def views_state_dict(self):
        sd = make_state_dict("t", 17, seed=7)
        # Put every bias/BN vector into one shared storage, each at its own offset.
        names = [k for k, v in sd.items() if v.dim() == 1 and v.dtype == torch.float32]
        total = sum(sd[k].numel() for k in names) + 3
        pool = torch.randn(total)
        off = 3
        for k in names:
            n = sd[k].numel()
            sd[k] = pool[off:off + n]
            off += n
        # Non-contiguous: a transposed [128, 128] weight, a column slice.
        base = torch.randn(128, 128)
        sd["head.dcc.x_fc.weight"] = base.t()
        wide = torch.randn(128, 300)
        sd["head.dcc.y_fc.weight"] = wide[:, 17:145]
        # Stride 0: a broadcast vector.
        sd["head.dcc.gau.res_scale.scale"] = torch.tensor([0.25]).expand(128)
        # A 4-d permuted conv weight.
        w = torch.randn(3, 3, 12, 24)
        sd["backbone.stem.conv.conv.weight"] = w.permute(3, 2, 0, 1)
        return sd

    def test_views_legacy_and_zip(self):
        sd = self.views_state_dict()
        self.assertFalse(sd["head.dcc.x_fc.weight"].is_contiguous())
        self.assertEqual(sd["head.dcc.gau.res_scale.scale"].stride(), (0,))
        for fmt in ("legacy", "zip"):
            src = self.save({"meta": {}, "state_dict": sd}, "views_%s.pth" % fmt, fmt)
            dst, _ = self.convert_ok(src)
            self.check_round_trip(sd, dst, "t")

    def test_other_float_dtypes_become_float32(self):
        sd = make_state_dict("t", 17, seed=3)
        sd["head.dcc.x_fc.weight"] = sd["head.dcc.x_fc.weight"].double()
        sd["head.dcc.y_fc.weight"] = sd["head.dcc.y_fc.weight"].half()
        sd["head.dcc.y_fc.bias"] = sd["head.dcc.y_fc.bias"].bfloat16()
        src = self.save(sd, "dtypes.pth", "legacy")
        dst, _ = self.convert_ok(src)
        self.check_round_trip(sd, dst, "t")  # compares with .to(float32)


class KeypointsAndDataset(ConverterTestBase):
    def test_crowdpose_14_keypoints(self):
        sd = make_state_dict("s", 14, seed=5)
        self.assertEqual(tuple(sd["head.dcc.pose_to_kpts.0.weight"].shape), (14 * 128, 256))
        src = self.save({"meta": {}, "state_dict": sd}, "crowd.pth", "legacy")
        dst, _ = self.convert_ok(src)
        self.check_round_trip(sd, dst, "s", keypoints=14)
        self.assertEqual(cc.read_rtmo(dst)["config"]["dataset"], "crowdpose")

    def test_dataset_option_and_summary(self):
        sd = make_state_dict("t", 17, seed=1)
        src = self.save(sd, "t.pth", "legacy")
        dst = self.path("out.rtmo")
        r = run_converter(src, dst, "--dataset", "coco", "--summary")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(cc.read_rtmo(dst)["config"]["dataset"], "coco")
        with open(dst, "rb") as f:
            sha = hashlib.sha256(f.read()).hexdigest()
        out = r.stdout
        for want in ("model:      rtmo-t", "dataset:    coco", "input:      416x416",
                     "keypoints:  17", "tensors:    %d" % len(
                         [k for k in sd if not cc.is_training_only(k)]),
                     "file size:  %d bytes" % os.path.getsize(dst), "sha256:     " + sha):
            self.assertIn(want, out)
        params = sum(v.numel() for k, v in sd.items() if not cc.is_training_only(k))
        self.assertIn("parameters: %d" % params, out)

    def test_bad_dataset_name(self):
        src = self.save(make_state_dict("t"), "t.pth", "legacy")
        r = run_converter(src, self.path("o.rtmo"), "--dataset", "bad name")
        self.assertEqual(r.returncode, 1)
        self.assertIn("--dataset: expected a word", r.stderr)


class Errors(ConverterTestBase):
    def convert_fails(self, obj, fmt="legacy", *extra):
        src = self.save(obj, "bad.pth", fmt)
        dst = self.path("bad.rtmo")
        r = run_converter(src, dst, *extra)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertNotIn("Traceback", r.stderr)
        self.assertFalse(os.path.exists(dst))
        self.assertFalse(os.path.exists(dst + ".tmp"))
        return r.stderr

    def test_unknown_key(self):
        sd = make_state_dict("s")
        sd["head.extra.weight"] = torch.zeros(3)
        err = self.convert_fails({"meta": {}, "state_dict": sd})
        self.assertIn("1 unknown key(s) (not in the official rtmo-s layout): head.extra.weight",
                      err)

    def test_missing_keys(self):
        sd = make_state_dict("m")
        del sd["neck.lateral_convs.1.bn.running_var"]
        del sd["head.dcc.gau.ln.g"]
        err = self.convert_fails(sd, "zip")
        self.assertIn("2 missing key(s): neck.lateral_convs.1.bn.running_var, head.dcc.gau.ln.g",
                      err)

    def test_missing_training_only_keys_are_fine(self):
        sd = make_state_dict("t")
        for k in [k for k in sd if cc.is_training_only(k)]:
            del sd[k]
        src = self.save(sd, "inference_only.pth", "legacy")
        dst, r = self.convert_ok(src)
        self.assertIn("dropping 0 training-only entries", r.stderr)
        self.check_round_trip(sd, dst, "t")

    def test_wrong_shape(self):
        sd = make_state_dict("t")
        sd["neck.encoder.0.layers.0.ffn.layers.0.0.weight"] = torch.zeros(1024, 255)
        err = self.convert_fails(sd)
        self.assertIn("neck.encoder.0.layers.0.ffn.layers.0.0.weight: expected [1024, 256], "
                      "found [1024, 255]", err)

    def test_integer_weight(self):
        sd = make_state_dict("t")
        sd["head.dcc.x_fc.bias"] = torch.zeros(128, dtype=torch.int32)
        err = self.convert_fails(sd)
        self.assertIn("head.dcc.x_fc.bias: expected float32, found int32", err)

    def test_not_rtmo(self):
        err = self.convert_fails({"state_dict": {"fc.weight": torch.zeros(2, 2)}})
        self.assertIn("missing key backbone.stem.conv.conv.weight: expected an RTMO checkpoint",
                      err)

    def test_unknown_stem_width(self):
        sd = make_state_dict("t")
        sd["backbone.stem.conv.conv.weight"] = torch.zeros(40, 12, 3, 3)
        err = self.convert_fails(sd)
        self.assertIn("expected 24/32/48/64 output channels (rtmo-t/s/m/l), found shape "
                      "[40, 12, 3, 3]", err)

    def test_not_a_state_dict(self):
        err = self.convert_fails([1, 2, 3])
        self.assertIn("expected {'meta', 'state_dict'} or a bare state_dict", err)

    def test_garbage_and_truncated_files(self):
        garbage = self.path("garbage.pth")
        with open(garbage, "wb") as f:
            f.write(b"hello, not a checkpoint")
        r = run_converter(garbage, self.path("g.rtmo"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("not a torch checkpoint", r.stderr)

        src = self.save(make_state_dict("t"), "full.pth", "legacy")
        with open(src, "rb") as f:
            blob = f.read()
        for cut in (10, 1000, 30000, len(blob) // 2, len(blob) - 1):
            p = self.path("cut.pth")
            with open(p, "wb") as f:
                f.write(blob[:cut])
            r = run_converter(p, self.path("cut.rtmo"))
            self.assertEqual(r.returncode, 1, cut)
            self.assertNotIn("Traceback", r.stderr)
            self.assertIn("convert_checkpoint: error: ", r.stderr)

        zsrc = self.save(make_state_dict("t"), "full.zip.pth", "zip")
        with open(zsrc, "rb") as f:
            blob = f.read()
        p = self.path("cutzip.pth")
        with open(p, "wb") as f:
            f.write(blob[:len(blob) // 2])
        r = run_converter(p, self.path("cutzip.rtmo"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("corrupt zip checkpoint", r.stderr)

    def test_no_code_execution(self):
        # A pickle that would call os.system under a plain unpickler: the converter must
        # treat the global as an inert placeholder and then fail on the structure.
        class Evil:
            def __reduce__(self):
                return (os.system, ("touch " + self.marker,))

        Evil.marker = self.path("pwned")
        err = self.convert_fails({"meta": Evil(), "state_dict": {"x": Evil()}})
        self.assertFalse(os.path.exists(self.path("pwned")))
        self.assertIn("state_dict['x']: expected a tensor, found Opaque[posix.system]", err)

    def test_missing_input(self):
        r = run_converter(self.path("nope.pth"), self.path("o.rtmo"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("No such file or directory", r.stderr)


class Checksums(ConverterTestBase):
    """Format version 2: the converter's CRC-32s, recomputed here with zlib from the byte
    layout of weights/FORMAT.md, and corruption found by both readers, naming the tensor."""

    def converted(self):
        import struct
        sd = make_state_dict("t", 17, seed=5)
        src = self.save(sd, "t.pth", "zip")
        dst, _ = self.convert_ok(src)
        with open(dst, "rb") as f:
            blob = bytearray(f.read())
        return sd, dst, blob, struct

    def test_header_table_and_tensor_checksums(self):
        import zlib
        sd, dst, blob, struct = self.converted()
        version, cfg_off, cfg_size, tab_off, tab_size = (
            struct.unpack_from("<I", blob, 12)[0], *struct.unpack_from("<QQQQ", blob, 24))
        self.assertEqual(version, 2)
        self.assertEqual(cfg_off, 80)
        self.assertEqual(blob[68:76], b"\0" * 8)
        self.assertEqual(struct.unpack_from("<I", blob, 76)[0], zlib.crc32(bytes(blob[:76])))
        self.assertEqual(struct.unpack_from("<I", blob, 64)[0],
                         zlib.crc32(bytes(blob[cfg_off:tab_off + tab_size])))
        info = cc.read_rtmo(dst)
        self.assertEqual(info["version"], 2)
        # Each entry ends in the CRC-32 of the tensor's torch bytes.
        p = tab_off
        for name, _, shape, off, nbytes in info["tensors"]:
            p += 4 + len(name) + 8 + 8 * len(shape) + 16
            ref = sd[name].detach().to(torch.float32).contiguous().numpy().tobytes()
            self.assertEqual(struct.unpack_from("<I", blob, p)[0], zlib.crc32(ref), name)
            p += 4

    def test_bit_flip_in_tensor_data_is_named(self):
        _, dst, blob, struct = self.converted()
        tensors = cc.read_rtmo(dst)["tensors"]
        # A sample: the first, a middle and the last tensor, and the largest.
        picks = {0, len(tensors) // 2, len(tensors) - 1,
                 max(range(len(tensors)), key=lambda i: tensors[i][4])}
        for i in sorted(picks):
            name, _, _, off, nbytes = tensors[i]
            bad = bytearray(blob)
            bad[off + nbytes // 2] ^= 0x04
            p = self.path("bad%d.rtmo" % i)
            with open(p, "wb") as f:
                f.write(bad)
            with self.assertRaises(cc.ConvertError) as ctx:
                cc.read_rtmo(p)
            self.assertIn("tensor '%s': data checksum mismatch" % name, str(ctx.exception))
            if WEIGHTS_INFO:
                r = subprocess.run([WEIGHTS_INFO, p], capture_output=True, text=True)
                self.assertNotEqual(r.returncode, 0, name)
                self.assertIn("tensor '%s' data (bytes %d-%d) checksum" %
                              (name, off, off + nbytes - 1), r.stderr)

    def test_header_and_table_flips_are_detected(self):
        _, dst, blob, struct = self.converted()
        tab_end = sum(struct.unpack_from("<QQ", blob, 40))
        for at in list(range(16, 80)) + list(range(80, tab_end, 97)):
            bad = bytearray(blob)
            bad[at] ^= 0x01
            p = self.path("flip.rtmo")
            with open(p, "wb") as f:
                f.write(bad)
            with self.assertRaises(cc.ConvertError, msg=str(at)):
                cc.read_rtmo(p)


class Help(unittest.TestCase):
    def test_help_lists_official_checkpoints(self):
        r = run_converter("--help")
        self.assertEqual(r.returncode, 0)
        urls = [w for w in r.stdout.split() if w.startswith("https://download.openmmlab.com/")]
        self.assertEqual(len(urls), 11)  # body7 t/s/m/l, coco s/m/l, crowdpose s/m/l/l-body7
        for part in ("rtmo-t_8xb32-600e_body7-416x416-f48f75cb_20231219.pth",
                     "rtmo-s_8xb32-600e_coco-640x640-8db55a59_20231211.pth",
                     "rtmo-l_16xb16-700e_crowdpose-640x640-1008211f_20231211.pth"):
            self.assertIn(part, r.stdout)


if __name__ == "__main__":
    unittest.main()
