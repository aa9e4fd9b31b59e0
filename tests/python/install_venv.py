#!/usr/bin/python3
"""Creates a venv and installs the package rtmo into it, as a user would, for the pytest suite.

  install_venv.py cmake VENV BUILD_DIR
      python3 -m venv --system-site-packages VENV, then
      cmake --install BUILD_DIR --component python --prefix VENV
  install_venv.py pip VENV SOURCE_DIR BUILD_DIR
      the same venv, then `pip install --no-build-isolation --no-index .` from a copy of the
      files pip needs (the source tree is never written to); setup.py re-uses BUILD_DIR
      (RTMO_CMAKE_BUILD_DIR), so no second full build.

Either way it then imports rtmo with VENV's python and checks it comes from VENV. VENV is
removed first: it must be a directory this script created (it holds a marker file).
"""

import os
import shutil
import subprocess
import sys
import tempfile

MARKER = "rtmo-test-venv"


def make_venv(venv):
    if os.path.exists(venv):
        if not os.path.isfile(os.path.join(venv, MARKER)):
            sys.exit("%s exists and was not made by install_venv.py: not removing it" % venv)
        shutil.rmtree(venv)
    subprocess.check_call(["/usr/bin/python3", "-m", "venv", "--system-site-packages", venv])
    open(os.path.join(venv, MARKER), "w").close()
    return os.path.join(venv, "bin", "python3")


def main():
    how, venv = sys.argv[1], os.path.abspath(sys.argv[2])
    python = make_venv(venv)
    if how == "cmake":
        subprocess.check_call(["cmake", "--install", sys.argv[3], "--component", "python",
                               "--prefix", venv])
    elif how == "pip":
        src, build = sys.argv[3], os.path.abspath(sys.argv[4])
        with tempfile.TemporaryDirectory(prefix="rtmo_pip_src_") as tmp:
            for f in ["setup.py", "pyproject.toml", "README.md", "rtmo/rtmo.h"]:
                os.makedirs(os.path.dirname(os.path.join(tmp, f)), exist_ok=True)
                shutil.copyfile(os.path.join(src, f), os.path.join(tmp, f))
            shutil.copytree(os.path.join(src, "rtmo", "python", "rtmo"),
                            os.path.join(tmp, "rtmo", "python", "rtmo"))
            env = dict(os.environ, RTMO_CMAKE_BUILD_DIR=build, PIP_NO_INDEX="1")
            subprocess.check_call([python, "-m", "pip", "install", "--no-build-isolation",
                                   "--no-index", "--no-cache-dir", tmp], env=env, cwd=tmp)
    else:
        sys.exit("usage: install_venv.py cmake VENV BUILD_DIR | pip VENV SOURCE_DIR BUILD_DIR")
    # Imported from the venv, not from the build tree or the current directory.
    out = subprocess.check_output(
        [python, "-c", "import rtmo, sys; print(rtmo.__file__); print(rtmo.__version__)"],
        cwd=venv, text=True).split()
    if not os.path.realpath(out[0]).startswith(os.path.realpath(venv) + os.sep):
        sys.exit("rtmo imported from %s, not from %s" % (out[0], venv))
    print("rtmo %s installed by %s into %s" % (out[1], how, venv))


if __name__ == "__main__":
    main()
