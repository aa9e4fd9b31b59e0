#!/usr/bin/env bash
# Fuzzes the image decoder (rtmo::DecodeImage from memory: libjpeg-turbo JPEG with its
# setjmp error path, stb_image PNG/BMP, EXIF orientation, the pixel limit) with libFuzzer
# under ASan+UBSan for SECONDS (default 60), single process. Builds with clang in
# build-fuzz-image/ (override with FUZZ_BUILD_DIR), seeds the corpus with small images of
# every kind the decoder handles (written with Debian's OpenCV: grey/RGB/RGBA/16-bit PNG, BMP,
# baseline/progressive/restart-marker JPEG, JPEG with an EXIF orientation, a header claiming
# a huge size; with cjpeg installed also 4:4:4/4:2:2/4:4:0 and arithmetic-coded, RGB and
# grey JPEGs; libjpeg itself is not instrumented), keeps the grown corpus between runs and
# writes any crashing input to $FUZZ_BUILD_DIR/fuzz_image_artifacts/. The 30 s per-input
# timeout leaves room for a loaded 2-core machine: a 168-byte BMP claiming 2.6 Mpx takes
# ~2 s under ASan (stb decodes the missing rows as zeros).
#
#   tools/fuzz_image.sh 300
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN="${1:-60}"
BUILD="${FUZZ_BUILD_DIR:-build-fuzz-image}"

CC=clang CXX=clang++ cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DRTMO_BUILD_FUZZERS=ON -DRTMO_BUILD_TESTS=OFF -DRTMO_BUILD_BENCH=OFF >/dev/null
cmake --build "$BUILD" -j "${JOBS:-2}" --target fuzz_decode_image

seeds="$BUILD/fuzz_image_seeds"
corpus="$BUILD/fuzz_image_corpus"
artifacts="$BUILD/fuzz_image_artifacts"
mkdir -p "$seeds" "$corpus" "$artifacts"
/usr/bin/python3 - "$seeds" tests/data/coco/000000000785.jpg <<'EOF'
import os, shutil, struct, subprocess, sys
import cv2
import numpy as np
out, src = sys.argv[1], sys.argv[2]
img = cv2.resize(cv2.imread(src, cv2.IMREAD_COLOR), (24, 16), interpolation=cv2.INTER_AREA)
def put(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
enc = lambda ext, im, params=(): cv2.imencode(ext, im, list(params))[1].tobytes()
put("rgb.png", enc(".png", img))
put("grey.png", enc(".png", cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)))
put("rgba.png", enc(".png", cv2.cvtColor(img, cv2.COLOR_BGR2BGRA)))
put("rgb16.png", enc(".png", img.astype(np.uint16) * 257))
put("rgb.bmp", enc(".bmp", img))
put("grey.bmp", enc(".bmp", cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)))
jpg = enc(".jpg", img, (cv2.IMWRITE_JPEG_QUALITY, 80))
put("baseline.jpg", jpg)
put("progressive.jpg", enc(".jpg", img, (cv2.IMWRITE_JPEG_PROGRESSIVE, 1)))
put("grey.jpg", enc(".jpg", cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)))
put("restart.jpg", enc(".jpg", img, (cv2.IMWRITE_JPEG_RST_INTERVAL, 1)))
if shutil.which("cjpeg"):
    ppm = b"P6\n24 16\n255\n" + img[:, :, ::-1].tobytes()
    for name, args in [("444", ["-sample", "1x1"]), ("422", ["-sample", "2x1"]),
                       ("440", ["-sample", "1x2"]), ("arith", ["-arithmetic"]),
                       ("arith_progressive", ["-arithmetic", "-progressive"]),
                       ("rgb", ["-rgb"]), ("grey_progressive", ["-grayscale", "-progressive"])]:
        put(f"cjpeg_{name}.jpg", subprocess.run(["cjpeg", *args], input=ppm,
                                                capture_output=True, check=True).stdout)
# EXIF APP1 (big-endian TIFF, one IFD0 entry: Orientation = 6) right after SOI.
tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + struct.pack(">H", 1) + \
       struct.pack(">HHIHH", 0x0112, 3, 1, 6, 0) + struct.pack(">I", 0)
app1 = b"Exif\x00\x00" + tiff
put("exif6.jpg", jpg[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + jpg[2:])
# A PNG whose IHDR claims 60000 x 60000 (CRC left wrong on purpose: stb ignores it).
png = bytearray(enc(".png", img))
png[16:24] = struct.pack(">II", 60000, 60000)
put("huge_header.png", bytes(png))
EOF

"$BUILD/rtmo/fuzz_decode_image" -max_total_time="$SECONDS_TO_RUN" -max_len=65536 -timeout=30 \
  -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" "$seeds"
