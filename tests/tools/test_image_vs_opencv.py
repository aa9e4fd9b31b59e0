#!/usr/bin/python3
"""rtmo::LoadImage vs OpenCV 4.6 cv2.imread(path, IMREAD_COLOR) (issue 5, item 4).

Usage: test_image_vs_opencv.py RTMO_IMAGE_TOOL COCO_DIR

Asserts, with OpenCV (Debian python3-opencv) as the ground truth:
  * PNG: identical pixels for 8/16-bit, grey, grey+alpha, RGB, RGBA, palette (+tRNS),
    1/2/4-bit grey, Adam7 interlaced, odd sizes; alpha dropped (not blended), 16-bit -> high
    byte.
  * BMP: identical pixels for 24-bit, 8-bit palette, 32-bit (alpha dropped, BI_RGB and
    BI_BITFIELDS), 1/4-bit palette, 16-bit 5-5-5 and 5-6-5, top-down rows, odd widths.
    (RLE-compressed BMPs, which OpenCV reads, are refused with an error: stb has no RLE.)
  * JPEG: shapes equal and pixel differences small (different IDCT/colour conversion than
    libjpeg-turbo): max |diff| <= 4 levels and mean |diff| <= 0.25 per value; the measured
    numbers are printed.
  * EXIF orientation 1..8 (both TIFF byte orders) in JPEG APP1 and PNG eXIf applied like
    OpenCV, plus OpenCV's quirks we reproduce: only the FIRST APP1 is looked at, its
    "Exif" identifier is not checked, out-of-range values are ignored, a PNG eXIf chunk
    must start with II/MM.
  * WritePng round-trips exactly through cv2.imread; WriteJpeg decodes close to the input.
"""
import os
import struct
import subprocess
import sys
import tempfile
import zlib

import cv2
import numpy as np

JPEG_MAX_DIFF = 4  # measured 3 over quality 75..100, 4:2:0/progressive/grey (stb vs libjpeg)
JPEG_MAX_MEAN = 0.25  # measured <= 0.14 (synthetic edges), <= 0.03 on the COCO photos


# ---- small encoders for what cv2.imwrite cannot produce --------------------------------
def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(samples, color_type, bit_depth, palette=None, trns=None, extra=(),
              interlace=False):
    """samples: [h, w] or [h, w, c] integer array in the PNG's channel order."""
    h, w = samples.shape[:2]
    s = samples.reshape(h, w, -1)
    if interlace:  # Adam7: the 7 reduced images one after the other, 8-bit samples only
        assert bit_depth == 8
        raw = b""
        for x0, y0, dx, dy in [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4),
                               (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]:
            sub = s[y0::dy, x0::dx]
            if sub.size:
                raw += b"".join(b"\0" + r.astype(np.uint8).tobytes() for r in sub)
        ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 1)
        return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) +
                png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b""))
    rows = []
    for y in range(h):
        row = s[y].reshape(-1)
        if bit_depth == 16:
            data = row.astype(">u2").tobytes()
        elif bit_depth == 8:
            data = row.astype(np.uint8).tobytes()
        else:  # pack MSB first
            per = 8 // bit_depth
            padded = np.zeros((len(row) + per - 1) // per * per, dtype=np.uint8)
            padded[:len(row)] = row
            packed = np.zeros(len(padded) // per, dtype=np.uint8)
            for k in range(per):
                packed |= (padded[k::per] << (8 - bit_depth * (k + 1))).astype(np.uint8)
            data = packed.tobytes()
        rows.append(b"\0" + data)
    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 0)
    out = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
    before = [c for c in extra if c[0] == "before"]
    after = [c for c in extra if c[0] == "after"]
    for _, c in before:
        out += c
    if palette is not None:
        out += png_chunk(b"PLTE", palette.astype(np.uint8).tobytes())
    if trns is not None:
        out += png_chunk(b"tRNS", trns)
    out += png_chunk(b"IDAT", zlib.compress(b"".join(rows)))
    for _, c in after:
        out += c
    return out + png_chunk(b"IEND", b"")


def bmp_bytes(pixels_bgr_or_idx, bpp, palette=None, top_down=False, masks=None):
    """24/32-bit: [h, w, 3|4] BGR(A); 16-bit: [h, w] uint16 words; 1/4/8-bit: [h, w]
    palette indices. masks: BI_BITFIELDS (r, g, b) masks."""
    h, w = pixels_bgr_or_idx.shape[:2]
    row_bytes = (w * bpp + 31) // 32 * 4
    rows = []
    for y in range(h):
        r = pixels_bgr_or_idx[y]
        if bpp in (24, 32):
            data = r.astype(np.uint8).tobytes()
        elif bpp == 16:
            data = r.astype("<u2").tobytes()
        elif bpp == 1:
            data = np.packbits(r.astype(np.uint8)).tobytes()
        elif bpp == 8:
            data = r.astype(np.uint8).tobytes()
        else:  # 4-bit
            p = np.zeros((w + 1) // 2 * 2, dtype=np.uint8)
            p[:w] = r
            data = ((p[0::2] << 4) | p[1::2]).astype(np.uint8).tobytes()
        rows.append(data + b"\0" * (row_bytes - len(data)))
    if not top_down:
        rows = rows[::-1]
    pal = b""
    if palette is not None:
        pal = b"".join(bytes([b, g, r, 0]) for b, g, r in palette)
    extra = b"".join(struct.pack("<I", m) for m in masks) if masks else b""
    pal = extra + pal
    offset = 14 + 40 + len(pal)
    size = offset + row_bytes * h
    info = struct.pack("<IiiHHIIiiII", 40, w, -h if top_down else h, 1, bpp, 3 if masks else 0,
                       row_bytes * h, 2835, 2835, len(palette) if palette is not None else 0, 0)
    return b"BM" + struct.pack("<IHHI", size, 0, 0, offset) + info + pal + b"".join(rows)


def tiff(orientation, little=True):
    e = "<" if little else ">"
    ifd = (struct.pack(e + "H", 1) + struct.pack(e + "HHI", 0x0112, 3, 1) +
           struct.pack(e + "H", orientation) + b"\0\0" + struct.pack(e + "I", 0))
    return (b"II" if little else b"MM") + struct.pack(e + "HI", 42, 8) + ifd


def app1(payload):
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def insert_after_app0(jpg, segments):
    pos = 2
    if jpg[2:4] == b"\xff\xe0":
        pos = 4 + struct.unpack(">H", jpg[4:6])[0]
    return jpg[:pos] + b"".join(segments) + jpg[pos:]


def orient(a, o):  # OpenCV's ApplyExifOrientation, in numpy
    t = a.transpose(1, 0, 2)
    return {1: a, 2: a[:, ::-1], 3: a[::-1, ::-1], 4: a[::-1], 5: t, 6: t[:, ::-1],
            7: t[::-1, ::-1], 8: t[::-1]}[o]


# ---- the test -------------------------------------------------------------------------------
def main():
    tool, coco = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="rtmo_image_")
    rng = np.random.default_rng(7)
    files = {}  # name -> (path, kind) kind: exact | jpeg

    def add(name, data, kind):
        path = os.path.join(tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        files[name] = (path, kind)
        return path

    def imwrite(name, img, params=(), kind="exact"):
        ok, enc = cv2.imencode(os.path.splitext(name)[1], img, list(params))
        assert ok, name
        return add(name, enc.tobytes(), kind)

    # PNG
    for (h, w) in [(1, 1), (37, 53), (64, 31)]:
        bgr = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        imwrite(f"rgb_{w}x{h}.png", bgr)
        imwrite(f"grey_{w}x{h}.png", bgr[:, :, 1])
        imwrite(f"rgba_{w}x{h}.png", np.dstack([bgr, rng.integers(0, 256, (h, w), np.uint8)]))
        imwrite(f"rgb16_{w}x{h}.png", rng.integers(0, 65536, (h, w, 3), dtype=np.uint16))
        imwrite(f"grey16_{w}x{h}.png", rng.integers(0, 65536, (h, w), dtype=np.uint16))
        imwrite(f"rgba16_{w}x{h}.png", rng.integers(0, 65536, (h, w, 4), dtype=np.uint16))
        add(f"greyalpha_{w}x{h}.png", png_bytes(rng.integers(0, 256, (h, w, 2)), 4, 8), "exact")
        add(f"greyalpha16_{w}x{h}.png",
            png_bytes(rng.integers(0, 65536, (h, w, 2)), 4, 16), "exact")
        pal = rng.integers(0, 256, (16, 3))
        add(f"palette_{w}x{h}.png", png_bytes(rng.integers(0, 16, (h, w)), 3, 8, palette=pal),
            "exact")
        add(f"palette_trns_{w}x{h}.png",
            png_bytes(rng.integers(0, 16, (h, w)), 3, 4, palette=pal,
                      trns=bytes(rng.integers(0, 256, 16, dtype=np.uint8))), "exact")
        add(f"adam7_{w}x{h}.png", png_bytes(rng.integers(0, 256, (h, w, 3)), 2, 8,
                                            interlace=True), "exact")
        for bits in (1, 2, 4):
            add(f"grey{bits}bit_{w}x{h}.png",
                png_bytes(rng.integers(0, 1 << bits, (h, w)), 0, bits), "exact")
    # BMP
    for (h, w) in [(1, 1), (23, 17), (40, 66)]:
        bgr = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        imwrite(f"bgr_{w}x{h}.bmp", bgr)
        imwrite(f"grey_{w}x{h}.bmp", bgr[:, :, 0])
        add(f"bgra32_{w}x{h}.bmp",
            bmp_bytes(np.dstack([bgr, rng.integers(0, 256, (h, w), np.uint8)]), 32), "exact")
        add(f"topdown24_{w}x{h}.bmp", bmp_bytes(bgr, 24, top_down=True), "exact")
        pal = [tuple(int(v) for v in rng.integers(0, 256, 3)) for _ in range(16)]
        add(f"pal4_{w}x{h}.bmp", bmp_bytes(rng.integers(0, 16, (h, w)), 4, palette=pal), "exact")
        add(f"pal1_{w}x{h}.bmp", bmp_bytes(rng.integers(0, 2, (h, w)), 1, palette=pal[:2]),
            "exact")
        words = rng.integers(0, 65536, (h, w), dtype=np.uint16)
        add(f"rgb555_{w}x{h}.bmp", bmp_bytes(words, 16), "exact")
        add(f"rgb565_{w}x{h}.bmp", bmp_bytes(words, 16, masks=(0xf800, 0x07e0, 0x001f)), "exact")
        add(f"bitfields32_{w}x{h}.bmp",
            bmp_bytes(rng.integers(0, 256, (h, w, 4), dtype=np.uint8), 32,
                      masks=(0x00ff0000, 0x0000ff00, 0x000000ff)), "exact")
    # JPEG
    smooth = cv2.GaussianBlur(rng.integers(0, 256, (120, 161, 3), dtype=np.uint8), (0, 0), 3)
    for q in (75, 95, 100):
        imwrite(f"smooth_q{q}.jpg", smooth, [cv2.IMWRITE_JPEG_QUALITY, q], "jpeg")
        imwrite(f"noise_q{q}.jpg", rng.integers(0, 256, (57, 91, 3), dtype=np.uint8),
                [cv2.IMWRITE_JPEG_QUALITY, q], "jpeg")
    imwrite("smooth_progressive.jpg", smooth, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1], "jpeg")
    imwrite("smooth_grey.jpg", smooth[:, :, 0], [], "jpeg")
    imwrite("tiny.jpg", smooth[:1, :1], [], "jpeg")
    imwrite("odd.jpg", smooth[:33, :17], [], "jpeg")
    for f in sorted(os.listdir(coco)):
        if f.endswith(".jpg") or f.endswith(".png"):
            files["coco_" + f] = (os.path.join(coco, f), "jpeg" if f.endswith(".jpg") else "exact")

    # EXIF: expected orientation, checked against cv2 and against our own plain decode.
    yy, xx = np.mgrid[0:48, 0:80]
    asym = np.stack([xx * 3, yy * 5, (xx + yy) * 2], -1).astype(np.uint8)
    asym[5:15, 5:30] = (0, 0, 255)
    ok, enc = cv2.imencode(".jpg", asym, [cv2.IMWRITE_JPEG_QUALITY, 95])
    plain_jpg = enc.tobytes()
    add("exif_plain.jpg", plain_jpg, "jpeg")
    ok, enc = cv2.imencode(".png", asym)
    plain_png = enc.tobytes()
    add("exif_plain.png", plain_png, "exact")
    exif_cases = []  # (name, base file, expected orientation)
    for o in range(1, 9):
        for little in (True, False):
            name = f"exif_o{o}_{'II' if little else 'MM'}.jpg"
            add(name, insert_after_app0(plain_jpg, [app1(b"Exif\0\0" + tiff(o, little))]), "jpeg")
            exif_cases.append((name, "exif_plain.jpg", o))
        t = tiff(o, o % 2 == 0)
        chunk = png_chunk(b"eXIf", t)
        add(f"exif_o{o}.png", plain_png[:33] + chunk + plain_png[33:], "exact")
        exif_cases.append((f"exif_o{o}.png", "exif_plain.png", o))
    quirks = [
        ("exif_xmp_first.jpg",  # OpenCV reads only the first APP1
         insert_after_app0(plain_jpg, [app1(b"http://ns.adobe.com/xap/1.0/\0<x/>"),
                                       app1(b"Exif\0\0" + tiff(6))]), 1),
        ("exif_no_identifier.jpg",  # identifier not checked
         insert_after_app0(plain_jpg, [app1(b"Abcd\0\0" + tiff(6))]), 6),
        ("exif_before_app0.jpg", plain_jpg[:2] + app1(b"Exif\0\0" + tiff(8)) + plain_jpg[2:], 8),
        ("exif_o0.jpg", insert_after_app0(plain_jpg, [app1(b"Exif\0\0" + tiff(0))]), 1),
        ("exif_o9.jpg", insert_after_app0(plain_jpg, [app1(b"Exif\0\0" + tiff(9))]), 1),
        ("exif_truncated_tiff.jpg",
         insert_after_app0(plain_jpg, [app1(b"Exif\0\0" + tiff(6)[:14])]), 1),
    ]
    for name, data, o in quirks:
        add(name, data, "jpeg")
        exif_cases.append((name, "exif_plain.jpg", o))
    png_quirks = [
        ("exif_png_after_idat.png",
         plain_png[:-12] + png_chunk(b"eXIf", tiff(5)) + plain_png[-12:], 5),
        ("exif_png_exif_prefix.png",  # libpng rejects eXIf not starting with II/MM
         plain_png[:33] + png_chunk(b"eXIf", b"Exif\0\0" + tiff(6)) + plain_png[33:], 1),
        ("exif_png_two.png", plain_png[:33] + png_chunk(b"eXIf", tiff(6)) +
         png_chunk(b"eXIf", tiff(3)) + plain_png[33:], 6),
    ]
    for name, data, o in png_quirks:
        add(name, data, "exact")
        exif_cases.append((name, "exif_plain.png", o))

    # Documented differences (rtmo/io/image.h): asserted so the documentation stays true.
    def bad_entry_tiff(o):  # a string entry pointing outside the block, then orientation
        entries = [(0x010f, 2, 100, struct.pack("<I", 5000)),
                   (0x0112, 3, 1, struct.pack("<H", o) + b"\0\0")]
        ifd = (struct.pack("<H", len(entries)) +
               b"".join(struct.pack("<HHI", t, ty, c) + v for t, ty, c, v in entries) +
               struct.pack("<I", 0))
        return b"II" + struct.pack("<HI", 42, 8) + ifd
    add("diff_exif_bad_entry.jpg",
        insert_after_app0(plain_jpg, [app1(b"Exif\0\0" + bad_entry_tiff(6))]), "documented")
    pal4 = [(10, 20, 30), (40, 50, 60), (70, 80, 90), (100, 110, 120)]
    rle = b"".join(bytes([5, i % 4, 0, 0]) for i in range(3)) + b"\0\1"
    info = struct.pack("<IiiHHIIiiII", 40, 5, 3, 1, 8, 1, len(rle), 2835, 2835, 4, 0)
    pal_bytes = b"".join(bytes([b, g, r, 0]) for b, g, r in pal4)
    add("diff_rle8.bmp", b"BM" + struct.pack("<IHHI", 70 + len(rle), 0, 0, 70) + info +
        pal_bytes + rle, "documented")
    truncated = plain_jpg[:len(plain_jpg) * 2 // 3]
    add("diff_truncated.jpg", truncated, "documented")

    # writers
    src_npy = os.path.join(tmp, "writer_src.npy")
    writer_img = smooth.copy()
    np.save(src_npy, writer_img)
    # Decoded arrays go to the temp dir: some inputs live in the source tree (tests/data).
    def out(name):
        return os.path.join(tmp, "decoded_" + name + ".npy")

    cmds = [f"decode {p} {out(n)}" for n, (p, k) in files.items() if k != "documented"]
    cmds += [f"encode {src_npy} {tmp}/written.png", f"encode {src_npy} {tmp}/written.jpg 95",
             f"encode {src_npy} {tmp}/written_q50.jpg 50"]
    with open(os.path.join(tmp, "cmds.txt"), "w") as fh:
        fh.write("\n".join(cmds) + "\n")
    subprocess.run([tool, "batch", os.path.join(tmp, "cmds.txt")], check=True)

    failures = 0
    exact_pixels = 0
    jpeg_stats = []

    def ours(name):
        return np.load(out(name))

    for name, (path, kind) in sorted(files.items()):
        if kind == "documented":
            continue
        got = ours(name)
        exp = cv2.imread(path, cv2.IMREAD_COLOR)
        if exp is None or got.shape != exp.shape:
            print(f"FAIL {name}: shape {got.shape} vs OpenCV {None if exp is None else exp.shape}")
            failures += 1
            continue
        diff = np.abs(got.astype(np.int64) - exp.astype(np.int64))
        if kind == "exact":
            exact_pixels += exp.shape[0] * exp.shape[1]
            if diff.any():
                print(f"FAIL {name}: {int(np.count_nonzero(diff.max(-1)))} pixels differ from "
                      f"OpenCV (max {diff.max()})")
                failures += 1
        else:
            jpeg_stats.append((name, int(diff.max()), float((diff > 0).mean()),
                               float(diff.mean())))
            if diff.max() > JPEG_MAX_DIFF or diff.mean() > JPEG_MAX_MEAN:
                print(f"FAIL {name}: JPEG differs from OpenCV by max {diff.max()}, "
                      f"mean {diff.mean():.4f}")
                failures += 1

    for name, base, o in exif_cases:
        # Our decode must be exactly our plain decode, transformed; OpenCV's likewise.
        if not np.array_equal(ours(name), orient(ours(base), o)):
            print(f"FAIL {name}: expected orientation {o} applied to our plain decode")
            failures += 1
        cv_got = cv2.imread(files[name][0], cv2.IMREAD_COLOR)
        cv_plain = cv2.imread(files[base][0], cv2.IMREAD_COLOR)
        if not np.array_equal(cv_got, orient(cv_plain, o)):
            print(f"FAIL {name}: OpenCV itself does not apply orientation {o} "
                  f"(test assumption wrong)")
            failures += 1

    def ours_or_error(name):
        path = files[name][0]
        r = subprocess.run([tool, "decode", path, out(name)], capture_output=True, text=True)
        return (np.load(out(name)), "") if r.returncode == 0 else (None, r.stderr.strip())

    got, _ = ours_or_error("diff_exif_bad_entry.jpg")
    cv_got = cv2.imread(files["diff_exif_bad_entry.jpg"][0], cv2.IMREAD_COLOR)
    if got is None or got.shape != (80, 48, 3) or cv_got.shape != (48, 80, 3):
        print(f"FAIL documented EXIF difference changed: ours {None if got is None else got.shape}"
              f", OpenCV {cv_got.shape} (expected ours rotated, OpenCV not)")
        failures += 1
    for name in ("diff_rle8.bmp", "diff_truncated.jpg"):
        got, err = ours_or_error(name)
        cv_got = cv2.imread(files[name][0], cv2.IMREAD_COLOR)
        if got is not None or cv_got is None or not err:
            print(f"FAIL documented difference {name}: ours should refuse (got {err!r}), "
                  f"OpenCV should decode ({None if cv_got is None else cv_got.shape})")
            failures += 1
        else:
            print(f"documented difference {name}: OpenCV decodes {cv_got.shape}, we refuse: {err}")

    written = cv2.imread(os.path.join(tmp, "written.png"), cv2.IMREAD_COLOR)
    if written is None or not np.array_equal(written, writer_img):
        print("FAIL WritePng: cv2.imread of the written PNG differs from the input")
        failures += 1
    for q, tol in ((95, 6.0), (50, 20.0)):
        wj = cv2.imread(os.path.join(tmp, f"written{'' if q == 95 else '_q50'}.jpg"))
        err = np.abs(wj.astype(np.float64) - writer_img).mean() if wj is not None else None
        print(f"WriteJpeg q{q}: mean |decoded - input| = {err}")
        if err is None or err > tol:
            print(f"FAIL WriteJpeg q{q}: mean error {err} > {tol}")
            failures += 1

    print(f"exact formats: {sum(k == 'exact' for _, k in files.values())} files, "
          f"{exact_pixels} pixels, identical to OpenCV")
    print("JPEG vs OpenCV (max |diff|, fraction of differing values, mean |diff|):")
    for name, mx, frac, mean in jpeg_stats:
        print(f"  {name:28s} max {mx}  frac {frac:.4f}  mean {mean:.4f}")
    print(f"overall JPEG: max {max(s[1] for s in jpeg_stats)}, "
          f"worst fraction {max(s[2] for s in jpeg_stats):.4f}, "
          f"worst mean {max(s[3] for s in jpeg_stats):.4f}")
    print(f"EXIF cases: {len(exif_cases)}")
    if failures:
        print(f"{failures} FAILED")
        return 1
    print("all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
