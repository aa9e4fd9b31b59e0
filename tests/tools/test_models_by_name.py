#!/usr/bin/python3
"""Models by name (`rtmo --model NAME|FILE.pth`, `rtmo fetch`) against 127.0.0.1 only.

  test_models_by_name.py RTMO_BINARY IMAGE

Makes a seeded rtmo-t checkpoint (tests/tools/make_test_checkpoint.py, torch), serves it
with http.server on 127.0.0.1 (a free port chosen by the kernel) under an official-style
name whose -HHHHHHHH is its real sha256 prefix (and once under a wrong prefix), with
RTMO_HOME in a temporary directory, and checks: a name is downloaded, verified and
converted into $RTMO_HOME (the .rtmo equal to converting the file directly, the poses equal
to running that file); the second run uses the cache with the server dead; a checksum
mismatch fails clearly (exit 3) and leaves no file; a foreign .pth in the cache is never
replaced; a .pth path is converted once into $RTMO_HOME/<stem>-<path hash>.rtmo (again when
the .pth is newer; another folder's .pth of the same name gets its own entry); offline (dead server, RTMO_OFFLINE=1) the error names the exact cache path and
the URL; the default model is rtmo-s from the cache unless ./weights/rtmo-s.rtmo exists;
concurrent fetches leave one complete file and no temporaries; `rtmo fetch --list` agrees
with the converter's --help table of official URLs.
"""

import functools
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CONVERTER = os.path.join(ROOT, "tools", "convert_checkpoint.py")
MAKE_CKPT = os.path.join(HERE, "make_test_checkpoint.py")
RTMO = None
IMAGE = None
OFFICIAL_BASE = "https://download.openmmlab.com/mmpose/v1/projects/rtmo"
RTMO_S_FILE = "rtmo-s_8xb32-600e_body7-640x640-dac2bf74_20231211.pth"


class CountingHandler(http.server.SimpleHTTPRequestHandler):
    requests = 0

    def do_GET(self):
        CountingHandler.requests += 1
        super().do_GET()

    def log_message(self, *args):
        pass


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def read(path):
    with open(path, "rb") as f:
        return f.read()


class ModelsByName(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="rtmo_models_by_name_")
        cls.ckpt = os.path.join(cls.tmp, "seeded-t.pth")
        subprocess.run([sys.executable, MAKE_CKPT, cls.ckpt, "--variant", "t", "--seed", "5"],
                       check=True, stdout=subprocess.DEVNULL)
        cls.sha = sha256(cls.ckpt)
        cls.good = "rtmo-t_seeded-%s_20231219.pth" % cls.sha[:8]
        wrong = "%08x" % ((int(cls.sha[:8], 16) + 1) % (1 << 32))
        cls.bad = "rtmo-t_seeded-%s_20231219.pth" % wrong
        cls.served = os.path.join(cls.tmp, "served")
        os.makedirs(cls.served)
        for name in (cls.good, cls.bad):
            shutil.copy(cls.ckpt, os.path.join(cls.served, name))
        handler = functools.partial(CountingHandler, directory=cls.served)
        cls.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        cls.url = "http://127.0.0.1:%d" % cls.server.server_address[1]
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        # The reference: the same checkpoint converted directly (body7, as `fetch` passes).
        cls.want = os.path.join(cls.tmp, "want.rtmo")
        subprocess.run([sys.executable, CONVERTER, cls.ckpt, cls.want, "--dataset", "body7",
                        "--quiet"], check=True)
        cls.counter = 0

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def fresh_dir(self, what):
        ModelsByName.counter += 1
        d = os.path.join(self.tmp, "%s_%d" % (what, self.counter))
        os.makedirs(d)
        return d

    def env(self, home, url=None, file=None, **extra):
        env = dict(os.environ)
        for k in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "RTMO_OFFLINE",
                  "RTMO_WEIGHTS_FILE", "XDG_CACHE_HOME"):
            env.pop(k, None)
        env["RTMO_HOME"] = home
        env["RTMO_WEIGHTS_BASE_URL"] = url or self.url
        env["RTMO_PYTHON"] = sys.executable
        if file:
            env["RTMO_WEIGHTS_FILE"] = file
        env.update(extra)
        return env

    def run_rtmo(self, args, env, cwd=None):
        p = subprocess.run([RTMO] + args, env=env, cwd=cwd or self.tmp, capture_output=True,
                           text=True, timeout=600)
        return p.returncode, p.stdout, p.stderr

    def predict(self, model_args, env, cwd=None):
        out = os.path.join(self.fresh_dir("json"), "poses.json")
        rc, _, err = self.run_rtmo(model_args + ["-q", "--json", out, IMAGE], env, cwd)
        self.assertEqual(rc, 0, err)
        with open(out) as f:
            return json.load(f), err

    def test_name_downloads_checks_converts_then_uses_the_cache(self):
        home = os.path.join(self.fresh_dir("home"), "cache")  # created by rtmo
        before = CountingHandler.requests
        doc, err = self.predict(["--model", "rtmo-t"], self.env(home, file=self.good))
        self.assertEqual(CountingHandler.requests, before + 1)
        self.assertIn("downloading %s/%s" % (self.url, self.good), err)
        self.assertIn("sha256 %s... ok" % self.sha[:8], err)
        self.assertEqual(sorted(os.listdir(home)), sorted([self.good, "rtmo-t.rtmo"]))
        cached = os.path.join(home, "rtmo-t.rtmo")
        self.assertEqual(read(cached), read(self.want))
        self.assertEqual(read(os.path.join(home, self.good)), read(self.ckpt))
        self.assertEqual(doc["model"], cached)
        # The same poses as the directly converted file.
        direct, _ = self.predict(["--model", self.want], self.env(home))
        self.assertEqual(doc["images"], direct["images"])
        # Second run: the server is dead (port 1) and nothing is downloaded or converted.
        doc2, err2 = self.predict(["--model", "rtmo-t"],
                                  self.env(home, url="http://127.0.0.1:1", file=self.good))
        self.assertEqual(err2, "")
        self.assertEqual(doc2["images"], doc["images"])

    def test_checksum_mismatch_is_an_error_and_leaves_nothing(self):
        home = self.fresh_dir("home")
        rc, out, err = self.run_rtmo(["fetch", "rtmo-t"], self.env(home, file=self.bad))
        self.assertEqual(rc, 3, err)
        self.assertIn("checksum mismatch for %s/%s" % (self.url, self.bad), err)
        self.assertIn("sha256 starts with %s" % self.sha[:8], err)
        self.assertEqual(os.listdir(home), [])
        # The same through --model: exit 1 (model not loaded), the same message, no file.
        rc, _, err = self.run_rtmo(["--model", "rtmo-t", IMAGE], self.env(home, file=self.bad))
        self.assertEqual(rc, 1, err)
        self.assertIn("checksum mismatch", err)
        self.assertEqual(os.listdir(home), [])

    def test_foreign_pth_in_the_cache_is_not_replaced(self):
        home = self.fresh_dir("home")
        foreign = os.path.join(home, self.good)
        with open(foreign, "wb") as f:
            f.write(b"someone else's file")
        rc, _, err = self.run_rtmo(["fetch", "rtmo-t"], self.env(home, file=self.good))
        self.assertEqual(rc, 3, err)
        self.assertIn("not replacing it", err)
        self.assertEqual(read(foreign), b"someone else's file")
        self.assertEqual(os.listdir(home), [self.good])

    def test_pth_path_is_converted_once_into_the_cache(self):
        home = self.fresh_dir("home")
        src = os.path.join(self.fresh_dir("src"), "my-checkpoint.pth")
        shutil.copy(self.ckpt, src)
        doc, err = self.predict(["--model", src], self.env(home))
        # The cache name carries the first 8 hex digits of the sha256 of the absolute path.
        tag = hashlib.sha256(os.path.normpath(os.path.abspath(src)).encode()).hexdigest()[:8]
        cached = os.path.join(home, "my-checkpoint-%s.rtmo" % tag)
        self.assertIn("converting %s -> %s" % (src, cached), err)
        self.assertEqual(os.listdir(home), [os.path.basename(cached)])
        self.assertEqual(doc["model"], cached)
        # The converter's own dataset detection (no --dataset): compare with it.
        want = os.path.join(self.fresh_dir("want"), "w.rtmo")
        subprocess.run([sys.executable, CONVERTER, src, want, "--quiet"], check=True)
        self.assertEqual(read(cached), read(want))
        # Again: the cache, no conversion.
        _, err = self.predict(["--model", src], self.env(home))
        self.assertEqual(err, "")
        # A newer .pth is converted again.
        later = time.time() + 10
        os.utime(src, (later, later))
        _, err = self.predict(["--model", src], self.env(home))
        self.assertIn("converting", err)
        self.assertEqual(os.listdir(home), [os.path.basename(cached)])
        # A different checkpoint of the same name in another folder: its own cache entry, and
        # the first one is left alone.
        other = os.path.join(self.fresh_dir("src2"), "my-checkpoint.pth")
        shutil.copy(self.ckpt, other)
        before = read(cached)
        _, err = self.predict(["--model", other], self.env(home))
        self.assertIn("converting %s" % other, err)
        self.assertEqual(len(os.listdir(home)), 2)
        self.assertEqual(read(cached), before)

    def test_offline_error_names_the_cache_path_and_the_url(self):
        home = self.fresh_dir("home")
        rc, _, err = self.run_rtmo(["--model", "rtmo-s", IMAGE],
                                   self.env(home, url="http://127.0.0.1:1"))
        self.assertEqual(rc, 1, err)
        self.assertIn("download failed: http://127.0.0.1:1/%s" % RTMO_S_FILE, err)
        self.assertIn(os.path.join(home, RTMO_S_FILE), err)
        self.assertIn(os.path.join(home, "rtmo-s.rtmo"), err)
        self.assertEqual(os.listdir(home), [])
        # RTMO_OFFLINE=1: no request at all, even with a live server; the official URL shown.
        before = CountingHandler.requests
        env = self.env(home, file=self.good, RTMO_OFFLINE="1")
        env.pop("RTMO_WEIGHTS_BASE_URL")
        env.pop("RTMO_WEIGHTS_FILE")
        rc, _, err = self.run_rtmo(["fetch", "rtmo-s"], env)
        self.assertEqual(rc, 1, err)
        self.assertEqual(CountingHandler.requests, before)
        self.assertIn("RTMO_OFFLINE=1", err)
        self.assertIn("%s/%s" % (OFFICIAL_BASE, RTMO_S_FILE), err)
        self.assertIn(os.path.join(home, "rtmo-s.rtmo"), err)

    def test_default_model_is_rtmo_s_unless_weights_rtmo_s_exists(self):
        home = self.fresh_dir("home")
        shutil.copy(self.want, os.path.join(home, "rtmo-s.rtmo"))  # stands in for RTMO-s
        cwd = self.fresh_dir("cwd")
        doc, _ = self.predict([], self.env(home, url="http://127.0.0.1:1"), cwd=cwd)
        self.assertEqual(doc["model"], os.path.join(home, "rtmo-s.rtmo"))
        os.makedirs(os.path.join(cwd, "weights"))
        shutil.copy(self.want, os.path.join(cwd, "weights", "rtmo-s.rtmo"))
        doc, _ = self.predict([], self.env(home, url="http://127.0.0.1:1"), cwd=cwd)
        self.assertEqual(doc["model"], "weights/rtmo-s.rtmo")
        # Missing everywhere, offline: the message names the cache path and get_weights.sh.
        empty = self.fresh_dir("home")
        rc, _, err = self.run_rtmo([IMAGE], self.env(empty, url="http://127.0.0.1:1"),
                                   cwd=self.fresh_dir("cwd"))
        self.assertEqual(rc, 1, err)
        self.assertIn(os.path.join(empty, "rtmo-s.rtmo"), err)
        self.assertIn("tools/get_weights.sh s", err)

    def test_interrupted_fetches_temporaries_are_removed(self):
        # What a fetch killed by Ctrl-C leaves: "<file>.part.<pid>.<n>" of a process that no
        # longer exists. The next fetch removes it; a live process's temporary stays.
        home = self.fresh_dir("home")
        gone = subprocess.Popen(["true"])
        gone.wait()
        stale = os.path.join(home, "%s.part.%d.0" % (self.good, gone.pid))
        live = os.path.join(home, "%s.part.%d.0" % (self.good, os.getpid()))
        for path in (stale, live):
            with open(path, "wb") as f:
                f.write(b"half a download")
        rc, _, err = self.run_rtmo(["fetch", "rtmo-t"], self.env(home, file=self.good))
        self.assertEqual(rc, 0, err)
        self.assertFalse(os.path.exists(stale))
        self.assertEqual(read(live), b"half a download")

    def test_concurrent_fetches_leave_one_complete_file(self):
        home = self.fresh_dir("home")
        env = self.env(home, file=self.good)
        procs = [subprocess.Popen([RTMO, "fetch", "rtmo-t"], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(3)]
        for p in procs:
            out, err = p.communicate(timeout=600)
            self.assertEqual(p.returncode, 0, err)
            self.assertEqual(out.strip(), os.path.join(home, "rtmo-t.rtmo"))
        self.assertEqual(sorted(os.listdir(home)), sorted([self.good, "rtmo-t.rtmo"]))
        self.assertEqual(read(os.path.join(home, "rtmo-t.rtmo")), read(self.want))
        self.assertEqual(sha256(os.path.join(home, self.good)), self.sha)

    def test_fetch_command_line(self):
        home = self.fresh_dir("home")
        rc, _, err = self.run_rtmo(["fetch"], self.env(home))
        self.assertEqual(rc, 2)
        rc, _, err = self.run_rtmo(["fetch", "rtmo-s", "rtmo-x"], self.env(home))
        self.assertEqual(rc, 2)
        self.assertIn("no official RTMO checkpoint named 'rtmo-x'", err)
        self.assertEqual(os.listdir(home), [])  # names checked before any download
        rc, out, _ = self.run_rtmo(["fetch", "--list"], self.env(home))
        self.assertEqual(rc, 0)
        urls = [line.split()[1] for line in out.splitlines()]
        self.assertEqual(len(urls), 11)
        # The converter's --help lists the same official URLs (the two must not drift).
        helptext = subprocess.run([sys.executable, CONVERTER, "--help"], capture_output=True,
                                  text=True, check=True).stdout
        listed = [w for w in helptext.split() if w.startswith(OFFICIAL_BASE)]
        self.assertEqual(sorted(urls), sorted(listed))


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    RTMO = os.path.abspath(sys.argv[1])
    IMAGE = os.path.abspath(sys.argv[2])
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)
