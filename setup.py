"""Builds the package rtmo with the project's CMake: only the target rtmo_python, offline.

    pip install --no-build-isolation .        (Debian: python3-pip, python3-setuptools, wheel)

The CMake build directory is build/pip/cmake (re-used by later installs); set
RTMO_CMAKE_BUILD_DIR to build in (or re-use) another configured build directory, and
CMAKE_BUILD_PARALLEL_LEVEL to limit the build's jobs.
"""

import glob
import os
import re
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))
BUILD_BASE = os.path.join("build", "pip")  # setuptools' own build/ dirs, below CMake's


def version():
    text = open(os.path.join(ROOT, "rtmo", "rtmo.h")).read()
    parts = [re.search(r"kVersion%s = (\d+);" % p, text).group(1)
             for p in ("Major", "Minor", "Patch")]
    return ".".join(parts)


class CMakeBuild(build_ext):
    """Configures (once) and builds rtmo_python, then copies the module into the package."""

    def build_extension(self, ext):
        build_dir = os.environ.get("RTMO_CMAKE_BUILD_DIR") or os.path.join(ROOT, BUILD_BASE,
                                                                           "cmake")
        if not os.path.isfile(os.path.join(build_dir, "CMakeCache.txt")):
            cmd = ["cmake", "-S", ROOT, "-B", build_dir, "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
                   "-DRTMO_BUILD_TESTS=OFF", "-DRTMO_BUILD_BENCH=OFF", "-DRTMO_BUILD_PYTHON=ON",
                   "-DPYTHON_EXECUTABLE=" + sys.executable, "-DRTMO_PYTHON=" + sys.executable]
            if shutil.which("ninja"):
                cmd += ["-G", "Ninja"]
            subprocess.check_call(cmd)
        build = ["cmake", "--build", build_dir, "--target", "rtmo_python"]
        if "CMAKE_BUILD_PARALLEL_LEVEL" not in os.environ:
            build += ["-j", str(os.cpu_count() or 1)]
        subprocess.check_call(build)
        built = glob.glob(os.path.join(build_dir, "python", "rtmo", "_rtmo*.so"))
        if len(built) != 1:
            raise RuntimeError("expected one _rtmo*.so under %s/python/rtmo, found %r"
                               % (build_dir, built))
        dest = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copyfile(built[0], dest)


setup(
    version=version(),
    packages=["rtmo"],
    package_dir={"rtmo": "rtmo/python/rtmo"},
    package_data={"rtmo": ["__init__.pyi", "py.typed"]},
    ext_modules=[Extension("rtmo._rtmo", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    options={"build": {"build_base": BUILD_BASE}, "egg_info": {"egg_base": BUILD_BASE}},
    zip_safe=False,
)
