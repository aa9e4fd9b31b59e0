#!/usr/bin/env bash
# Installs the build tree into a temporary prefix, then builds and runs tests/consumer/main.cc
# against it twice: with CMake's find_package(rtmo) and with pkg-config.
#   run.sh BUILD_DIR MODEL.rtmo IMAGE
set -euo pipefail
build="$1" model="$2" image="$3"
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" > "$tmp/install.log"
echo "== find_package(rtmo)"
cmake -S "$here" -B "$tmp/cmake" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" > "$tmp/cfg.log"
cmake --build "$tmp/cmake" > "$tmp/build.log"
"$tmp/cmake/consumer" "$model" "$image"
echo "== pkg-config"
PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig" \
  g++ -std=c++20 "$here/main.cc" -o "$tmp/consumer_pc" \
  $(PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig" pkg-config --cflags --libs rtmo)
"$tmp/consumer_pc" "$model" "$image"
echo "== the installed command"
"$tmp/prefix/bin/rtmo" --version
echo "consumer: OK"
