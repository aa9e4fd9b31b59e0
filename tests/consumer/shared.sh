#!/usr/bin/env bash
# BUILD_SHARED_LIBS=ON: one shared librtmo.so behind rtmo::rtmo. Not in ctest (it compiles
# the library a second time, ~4 minutes on two cores); run by hand:
#   cmake -S . -B build-shared -G Ninja -DBUILD_SHARED_LIBS=ON -DRTMO_BUILD_TESTS=OFF \
#     -DRTMO_BUILD_BENCH=OFF -DRTMO_BUILD_PYTHON=OFF
#   cmake --build build-shared -j2 --target rtmo_lib rtmo
#   bash tests/consumer/shared.sh build-shared MODEL.rtmo IMAGE
# Installs into a temporary prefix and checks: the only library installed is librtmo.so
# (no internal static library, only the public headers), it has no undefined rtmo symbol
# and needs Highway/libjpeg/OpenMP itself, and tests/consumer/main.cc built with
# find_package(rtmo) and with pkg-config links librtmo.so alone and runs.
set -euo pipefail
build="$1" model="$2" image="$3"
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"
cmake --install "$build" --prefix "$prefix" > "$tmp/install.log"
echo "== installed libraries and headers"
(cd "$prefix" && find lib include -type f -o -type l | grep -v -e cmake/ -e pkgconfig/ | sort) |
  tee "$tmp/files"
if grep -q '\.a$' "$tmp/files" || ! grep -q 'lib/librtmo.so$' "$tmp/files"; then
  echo "shared: expected librtmo.so and no static library" >&2
  exit 1
fi
[ "$(grep -c '^include/' "$tmp/files")" = 2 ]
echo "== librtmo.so needs"
readelf -d "$prefix/lib/librtmo.so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tee "$tmp/needed"
grep -q libhwy "$tmp/needed" && grep -q libjpeg "$tmp/needed" && grep -q libgomp "$tmp/needed"
echo "== find_package(rtmo)"
cmake -S "$here" -B "$tmp/cmake" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" > "$tmp/cfg.log"
cmake --build "$tmp/cmake" > "$tmp/build.log"
readelf -d "$tmp/cmake/consumer" | grep NEEDED | tee "$tmp/consumer_needed"
grep -q 'librtmo.so' "$tmp/consumer_needed"
"$tmp/cmake/consumer" "$model" "$image" | tee "$tmp/consumer.out"
echo "== pkg-config"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
pkg-config --cflags --libs rtmo
g++ -std=c++20 "$here/main.cc" -o "$tmp/consumer_pc" $(pkg-config --cflags --libs rtmo) \
  -Wl,-rpath,"$prefix/lib"
"$tmp/consumer_pc" "$model" "$image" | cmp - "$tmp/consumer.out"
echo "shared: OK"
