#!/usr/bin/python3
"""tools/get_weights.sh against a local HTTP server on 127.0.0.1 (no outside network).

  test_get_weights.py CHECKPOINT.pth

Serves a seeded checkpoint (the goldens fixture's rtmo-t, from tools/reference/
make_checkpoint.py) under a name whose -HHHHHHHH suffix is its real sha256 prefix, as the
official files are named, and checks: download + verify + convert into RTMO_WEIGHTS_DIR
(the .rtmo equal to converting the file directly); a second run uses the cached .pth
without the network; a checksum mismatch (name claims another hash) and a 404 fail with a
clear message and leave no file behind; bad arguments exit 2.
"""

import functools
import hashlib
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCRIPT = os.path.join(ROOT, "tools", "get_weights.sh")
CONVERTER = os.path.join(ROOT, "tools", "convert_checkpoint.py")
CKPT = None


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class GetWeights(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="rtmo_get_weights_")
        cls.served = os.path.join(cls.tmp, "served")
        os.makedirs(cls.served)
        with open(CKPT, "rb") as f:
            cls.sha = hashlib.sha256(f.read()).hexdigest()
        cls.good = "rtmo-t_seeded-%s_20231219.pth" % cls.sha[:8]
        wrong = "%08x" % ((int(cls.sha[:8], 16) + 1) % (1 << 32))
        cls.bad = "rtmo-t_seeded-%s_20231219.pth" % wrong
        for name in (cls.good, cls.bad):
            shutil.copy(CKPT, os.path.join(cls.served, name))
        handler = functools.partial(QuietHandler, directory=cls.served)
        cls.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        cls.port = cls.server.server_address[1]
        cls.thread = threading.Thread(target=cls.server.serve_forever, daemon=True)
        cls.thread.start()
        # The reference conversion of the same file.
        cls.want = os.path.join(cls.tmp, "want.rtmo")
        subprocess.run([sys.executable, CONVERTER, CKPT, cls.want, "--dataset", "body7",
                        "--quiet"], check=True)

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def get(self, args, file, outdir, port=None):
        env = dict(os.environ)
        env["RTMO_WEIGHTS_BASE_URL"] = "http://127.0.0.1:%d" % (port or self.port)
        env["RTMO_WEIGHTS_FILE"] = file
        env["RTMO_WEIGHTS_DIR"] = outdir
        env.pop("http_proxy", None)
        env.pop("HTTP_PROXY", None)
        p = subprocess.run(["bash", SCRIPT] + args, env=env, capture_output=True, text=True,
                           timeout=600)
        return p.returncode, p.stdout + p.stderr

    def read(self, path):
        with open(path, "rb") as f:
            return f.read()

    def test_download_verify_convert_then_cached(self):
        out = os.path.join(self.tmp, "w_ok")
        rc, log = self.get(["t"], self.good, out)
        self.assertEqual(rc, 0, log)
        self.assertIn("sha256 %s... ok" % self.sha[:8], log)
        self.assertEqual(sorted(os.listdir(out)), sorted([self.good, "rtmo-t.rtmo"]))
        self.assertEqual(self.read(os.path.join(out, "rtmo-t.rtmo")), self.read(self.want))
        self.assertEqual(self.read(os.path.join(out, self.good)), self.read(CKPT))
        # Second run: the verified .pth is reused; a dead server does not matter.
        rc, log = self.get(["t"], self.good, out, port=1)
        self.assertEqual(rc, 0, log)
        self.assertIn("already present", log)

    def test_checksum_mismatch_leaves_nothing(self):
        out = os.path.join(self.tmp, "w_bad")
        rc, log = self.get(["t"], self.bad, out)
        self.assertEqual(rc, 3, log)
        self.assertIn("checksum mismatch", log)
        self.assertIn(self.sha[:8], log)
        self.assertEqual(os.listdir(out), [])

    def test_missing_file_on_server(self):
        out = os.path.join(self.tmp, "w_404")
        rc, log = self.get(["t"], "rtmo-t_nothere-01234567_20231219.pth", out)
        self.assertEqual(rc, 1, log)
        self.assertIn("download failed", log)
        self.assertEqual(os.listdir(out), [])

    def test_bad_arguments(self):
        out = os.path.join(self.tmp, "w_args")
        for args in (["x"], ["t", "coco"], [], ["s", "body7", "extra"]):
            rc, log = self.get(args, self.good, out)
            self.assertEqual(rc, 2, (args, log))
        rc, log = self.get(["t"], "no-hash-in-this-name.pth", out)
        self.assertEqual(rc, 2, log)
        self.assertIn("sha256 prefix", log)
        self.assertFalse(os.path.exists(out) and os.listdir(out))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    CKPT = os.path.abspath(sys.argv[1])
    unittest.main(argv=[sys.argv[0]] + sys.argv[2:], verbosity=2)
