#!/usr/bin/env bash
# rtmo.cpp used from another project, three ways, each building and running
# tests/consumer/main.cc (the README's "Use it from C++" program):
#   1. find_package(rtmo) against `cmake --install` of BUILD_DIR into a temporary prefix;
#   2. pkg-config against the same prefix;
#   3. add_subdirectory(<this source tree>) in a parent project (tests/consumer/subproject:
#      library + command only, no GoogleTest, the parent's build type and flags untouched).
# Also: only the public headers and the converter are installed, the library loads a model
# by name from RTMO_HOME, the installed `rtmo --version` reports the library's version, and
# (a build with video) the installed `rtmo` runs a video through libexec/rtmo/rtmo-video.
#   run.sh BUILD_DIR MODEL.rtmo IMAGE
set -euo pipefail
build="$1" model="$2" image="$3"
here="$(cd "$(dirname "$0")" && pwd)"
src="$(cd "$here/../.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" > "$tmp/install.log"
prefix="$tmp/prefix"

echo "== installed headers and data"
headers="$(cd "$prefix" && find include -type f | sort | tr '\n' ' ')"
if [ "$headers" != "include/rtmo/error.h include/rtmo/rtmo.h " ]; then
  echo "install: expected only include/rtmo/{error,rtmo}.h, got: $headers" >&2
  exit 1
fi
test -f "$prefix/share/rtmo/convert_checkpoint.py"

echo "== find_package(rtmo)"
cmake -S "$here" -B "$tmp/cmake" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" > "$tmp/cfg.log"
cmake --build "$tmp/cmake" > "$tmp/build.log"
"$tmp/cmake/consumer" "$model" "$image" | tee "$tmp/consumer.out"
# A model name: the library resolves rtmo-t in RTMO_HOME (a dead port: never downloads).
mkdir -p "$tmp/home"
cp "$model" "$tmp/home/rtmo-t.rtmo"
RTMO_HOME="$tmp/home" RTMO_WEIGHTS_BASE_URL=http://127.0.0.1:1 \
  "$tmp/cmake/consumer" rtmo-t "$image" | cmp - "$tmp/consumer.out"

echo "== pkg-config"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
g++ -std=c++20 "$here/main.cc" -o "$tmp/consumer_pc" $(pkg-config --cflags --libs rtmo)
"$tmp/consumer_pc" "$model" "$image" | cmp - "$tmp/consumer.out"

echo "== the installed command"
"$prefix/bin/rtmo" --version | tee "$tmp/version.out"
lib_version="$(sed -n 's/^rtmo \([0-9.]*\): .*/\1/p' "$tmp/consumer.out")"
cmd_version="$(sed -n 's/^rtmo \([0-9.]*\) .*/\1/p' "$tmp/version.out")"
if [ -z "$lib_version" ] || [ "$lib_version" != "$cmd_version" ]; then
  echo "version: library '$lib_version', command '$cmd_version'" >&2
  exit 1
fi
grep -q "format versions 1 to 2" "$tmp/version.out"
if [ -x "$build/rtmo/rtmo-video" ]; then
  # A build with video: the installed `rtmo` (no FFmpeg linked) hands videos to
  # libexec/rtmo/rtmo-video. Frames 0, 2, 4 of the 5-frame sample.
  echo "== the installed command on a video"
  test -x "$prefix/libexec/rtmo/rtmo-video"
  "$prefix/bin/rtmo" -q --threads 1 -m "$model" --every 2 --json "$tmp/video.jsonl" \
    "$src/tests/data/video/demo.mp4"
  if [ "$(wc -l < "$tmp/video.jsonl")" != 3 ]; then
    echo "video: expected 3 JSON lines, got: $(cat "$tmp/video.jsonl")" >&2
    exit 1
  fi
fi

echo "== add_subdirectory(rtmo.cpp)"
# Release: a build type the parent chose, different from rtmo.cpp's own default.
cmake -S "$here/subproject" -B "$tmp/sub" -G Ninja -DRTMO_SOURCE_DIR="$src" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON --no-warn-unused-cli \
  > "$tmp/sub_cfg.log" ||
  { cat "$tmp/sub_cfg.log" >&2; exit 1; }
grep "rtmo.cpp as a subproject" "$tmp/sub_cfg.log"
cmake --build "$tmp/sub" -j "${JOBS:-2}" --target consumer rtmo > "$tmp/sub_build.log" ||
  { tail -50 "$tmp/sub_build.log" >&2; exit 1; }
"$tmp/sub/consumer" "$model" "$image" | cmp - "$tmp/consumer.out"
"$tmp/sub/rtmo/rtmo/rtmo" --version | cmp - "$tmp/version.out"
echo "consumer: OK"
