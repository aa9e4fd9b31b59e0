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
  * JPEG (issue 13, item 5): identical pixels (zero differing) on the COCO sample JPEGs and
    on a generated set whose markers are checked to be what each case claims: cv2.imwrite
    baseline 4:2:0 at several qualities and sizes (1x1 .. 321x241), progressive, restart
    intervals, optimized tables, grey; cjpeg (libjpeg-turbo-progs) 4:4:4, 4:2:2, 4:2:0,
    4:4:0, 4:1:1, 4:1:0, 1x4, 3x1, mixed chroma factors, subsampled luma, each baseline,
    progressive and with restart markers, arithmetic coding, RGB (Adobe transform 0) and grey
    JPEGs, non-interleaved scans; libturbojpeg YCCK (Adobe transform 2) and CMYK (transform 0)
    at 4:4:4/4:2:2/4:2:0/4:4:0/4:1:1 and progressive. Cases whose generator is not installed
    are skipped with the reason printed.
  * JPEG errors: truncated files, corrupt entropy data (bad Huffman code, stray restart
    marker) and more than 1000 scans are refused (OpenCV decodes them, inventing pixels or
    warning); 12-bit JPEGs are refused by both. Our messages name the file and say what
    libjpeg said.
  * EXIF orientation 1..8 (both TIFF byte orders) in JPEG APP1 and PNG eXIf applied like
    OpenCV, plus OpenCV's quirks we reproduce: only the FIRST APP1 is looked at, its
    "Exif" identifier is not checked, out-of-range values are ignored, a PNG eXIf chunk
    must start with II/MM.
  * WritePng round-trips exactly through cv2.imread; WriteJpeg decodes close to the input.
"""
import ctypes
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

import cv2
import numpy as np



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


# ---- JPEG generators for what cv2.imwrite (OpenCV 4.6) cannot write ---------------------
# cv2.imwrite writes only 4:2:0 (or grey) JPEGs. cjpeg (libjpeg-turbo-progs) writes every
# sampling, arithmetic coding, RGB JPEGs and custom scan scripts; libturbojpeg writes the
# 4-component YCCK JPEGs (Adobe marker, transform 2) from which a CMYK JPEG (transform 0) is
# made by changing that byte. Both are installed by tools/setup.sh; without them those cases
# are skipped with the reason printed.
TJPF_CMYK = 11  # turbojpeg.h (libturbojpeg 2.1)
TJSAMP = {"444": 0, "422": 1, "420": 2, "440": 4, "411": 5}
TJFLAG_PROGRESSIVE = 16384


def ppm_bytes(bgr):
    h, w = bgr.shape[:2]
    if bgr.ndim == 2:
        return b"P5\n%d %d\n255\n" % (w, h) + bgr.astype(np.uint8).tobytes()
    return b"P6\n%d %d\n255\n" % (w, h) + bgr[:, :, ::-1].astype(np.uint8).tobytes()


def cjpeg(bgr, args, tmp):
    """JPEG bytes from cjpeg ARGS on the image (None if cjpeg is not installed)."""
    if shutil.which("cjpeg") is None:
        return None
    args = list(args)
    if "-scans" in args:  # the script goes to a file
        i = args.index("-scans")
        path = os.path.join(tmp, "scans.txt")
        with open(path, "w") as f:
            f.write(args[i + 1])
        args[i + 1] = path
    r = subprocess.run(["cjpeg", *args], input=ppm_bytes(bgr), capture_output=True, check=True)
    return r.stdout


def turbojpeg_cmyk(cmyk, sampling, flags=0):
    """YCCK JPEG bytes of a [h, w, 4] CMYK array (None if libturbojpeg is missing)."""
    try:
        tj = ctypes.CDLL("libturbojpeg.so.0")
    except OSError:
        return None
    tj.tjInitCompress.restype = ctypes.c_void_p
    tj.tjCompress2.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                               ctypes.c_int, ctypes.c_int,
                               ctypes.POINTER(ctypes.POINTER(ctypes.c_ubyte)),
                               ctypes.POINTER(ctypes.c_ulong), ctypes.c_int, ctypes.c_int,
                               ctypes.c_int]
    tj.tjFree.argtypes = [ctypes.c_void_p]
    tj.tjDestroy.argtypes = [ctypes.c_void_p]
    src = np.ascontiguousarray(cmyk, dtype=np.uint8)
    h, w = src.shape[:2]
    handle = tj.tjInitCompress()
    buf = ctypes.POINTER(ctypes.c_ubyte)()
    size = ctypes.c_ulong(0)
    rc = tj.tjCompress2(handle, src.ctypes.data, w, 0, h, TJPF_CMYK, ctypes.byref(buf),
                        ctypes.byref(size), TJSAMP[sampling], 90, flags)
    assert rc == 0, "tjCompress2 failed"
    data = ctypes.string_at(buf, size.value)
    tj.tjFree(buf)
    tj.tjDestroy(handle)
    return data


def jpeg_info(data):
    """What a JPEG's markers say: frame type, precision, components (id, h, v), restart
    interval, RST markers seen, Adobe transform, number of scans, APP1 segments."""
    info = {"sof": None, "precision": None, "comps": [], "dri": 0, "rst": 0, "adobe": None,
            "scans": 0}
    pos = 2
    while pos < len(data):
        while data[pos] == 0xff:
            pos += 1
        m = data[pos]
        pos += 1
        if m == 0xd9:
            break
        ln = struct.unpack(">H", data[pos:pos + 2])[0]
        seg = data[pos + 2:pos + ln]
        if 0xc0 <= m <= 0xcf and m not in (0xc4, 0xc8, 0xcc):
            info["sof"], info["precision"] = m, seg[0]
            info["comps"] = [(seg[6 + 3 * i], seg[7 + 3 * i] >> 4, seg[7 + 3 * i] & 15)
                             for i in range(seg[5])]
        elif m == 0xdd:
            info["dri"] = struct.unpack(">H", seg[:2])[0]
        elif m == 0xee and seg[:5] == b"Adobe":
            info["adobe"] = seg[11]
        pos += ln
        if m == 0xda:
            info["scans"] += 1
            while True:  # entropy-coded data up to the next marker
                pos = data.index(b"\xff", pos)
                nxt = data[pos + 1]
                if nxt == 0 or 0xd0 <= nxt <= 0xd7:
                    info["rst"] += nxt != 0
                    pos += 2
                elif nxt == 0xff:
                    pos += 1
                else:
                    break
    return info


def set_adobe_transform(jpg, transform):
    pos = jpg.index(b"\xff\xee\x00\x0eAdobe")  # APP14 of length 14; transform is its last byte
    return jpg[:pos + 15] + bytes([transform]) + jpg[pos + 16:]


def first_scan_data(jpg):
    """Offset of the entropy-coded data of the first scan."""
    sos = jpg.index(b"\xff\xda")
    return sos + 2 + struct.unpack(">H", jpg[sos + 2:sos + 4])[0]


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
    # JPEG: every case must decode to exactly cv2.imread's pixels. jpeg_expect[name] is what
    # the file's markers must say, so a generator that silently wrote something else (e.g.
    # 4:2:0 instead of 4:4:0) fails the test instead of leaving a case untested.
    jpeg_expect = {}
    skipped = []

    def add_jpeg(name, data, **expect):
        if data is None:
            skipped.append(name)
            return
        add(name, data, "jpeg")
        jpeg_expect[name] = expect

    def cv_jpeg(name, img, params=(), **expect):
        ok, enc = cv2.imencode(".jpg", img, list(params))
        assert ok, name
        add_jpeg(name, enc.tobytes(), **expect)

    smooth = cv2.GaussianBlur(rng.integers(0, 256, (120, 161, 3), dtype=np.uint8), (0, 0), 3)
    # A photo-like scene at an odd size (partial MCUs at the right and bottom edges): smooth
    # gradients, saturated colour edges (chroma upsampling) and fine noise (every DCT band).
    yy, xx = np.mgrid[0:53, 0:75]
    scene = np.stack([xx * 3, yy * 4, 255 - xx * 2 - yy], -1).astype(np.int32)
    scene[10:30, 20:45] = (0, 0, 255)
    scene[25:50, 40:70] = (255, 40, 0)
    scene = np.clip(scene + rng.integers(-20, 21, scene.shape), 0, 255).astype(np.uint8)
    s420 = [(1, 2, 2), (2, 1, 1), (3, 1, 1)]
    for q in (75, 95, 100):
        cv_jpeg(f"cv_smooth_q{q}.jpg", smooth, [cv2.IMWRITE_JPEG_QUALITY, q], sof=0xc0,
                comps=s420)
        cv_jpeg(f"cv_noise_q{q}.jpg", rng.integers(0, 256, (57, 91, 3), dtype=np.uint8),
                [cv2.IMWRITE_JPEG_QUALITY, q], sof=0xc0, comps=s420)
    cv_jpeg("cv_progressive.jpg", scene, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1], sof=0xc2)
    cv_jpeg("cv_progressive_grey.jpg", scene[:, :, 1], [cv2.IMWRITE_JPEG_PROGRESSIVE, 1],
            sof=0xc2, comps=[(1, 1, 1)])
    cv_jpeg("cv_rst1.jpg", scene, [cv2.IMWRITE_JPEG_RST_INTERVAL, 1], dri=1)
    cv_jpeg("cv_rst7.jpg", scene, [cv2.IMWRITE_JPEG_RST_INTERVAL, 7], dri=7)
    cv_jpeg("cv_optimize.jpg", scene, [cv2.IMWRITE_JPEG_OPTIMIZE, 1], sof=0xc0)
    cv_jpeg("cv_luma_chroma_q.jpg", scene, [cv2.IMWRITE_JPEG_LUMA_QUALITY, 90,
                                            cv2.IMWRITE_JPEG_CHROMA_QUALITY, 30], comps=s420)
    cv_jpeg("cv_grey.jpg", smooth[:, :, 0], sof=0xc0, comps=[(1, 1, 1)])
    for (h, w) in [(1, 1), (1, 17), (17, 1), (33, 17), (241, 321)]:
        cv_jpeg(f"cv_{w}x{h}.jpg", cv2.resize(smooth, (w, h)), [cv2.IMWRITE_JPEG_QUALITY, 90],
                comps=s420)
    # cjpeg: every chroma subsampling (luma HxV, chroma 1x1) incl. unusual ones (3x1, 1x4,
    # subsampled luma, chroma factors differing from each other), progressive, restart
    # intervals in rows and blocks, arithmetic coding, RGB and grey JPEGs, non-interleaved
    # sequential scans.
    samplings = {"444": "1x1", "422": "2x1", "420": "2x2", "440": "1x2", "411": "4x1",
                 "410": "4x2", "1x4": "1x4", "3x1": "3x1"}
    for label, hv in samplings.items():
        h, v = (int(c) for c in hv.split("x"))
        comps = [(1, h, v), (2, 1, 1), (3, 1, 1)]
        add_jpeg(f"cj_{label}.jpg", cjpeg(scene, ["-quality", "90", "-sample", hv], tmp),
                 sof=0xc0, comps=comps)
        add_jpeg(f"cj_{label}_progressive.jpg",
                 cjpeg(scene, ["-sample", hv, "-progressive"], tmp), sof=0xc2, comps=comps)
        add_jpeg(f"cj_{label}_rst1.jpg", cjpeg(scene, ["-sample", hv, "-restart", "1"], tmp),
                 comps=comps, rst=True)
    add_jpeg("cj_mixed_chroma.jpg", cjpeg(scene, ["-sample", "2x2,2x1,1x2"], tmp),
             comps=[(1, 2, 2), (2, 2, 1), (3, 1, 2)])
    add_jpeg("cj_subsampled_luma.jpg", cjpeg(scene, ["-sample", "1x1,2x2,2x2"], tmp),
             comps=[(1, 1, 1), (2, 2, 2), (3, 2, 2)])
    add_jpeg("cj_rst5blocks.jpg", cjpeg(scene, ["-restart", "5B"], tmp), dri=5, rst=True)
    add_jpeg("cj_rst_progressive.jpg", cjpeg(scene, ["-restart", "2B", "-progressive"], tmp),
             sof=0xc2, dri=2, rst=True)
    add_jpeg("cj_arith_420.jpg", cjpeg(scene, ["-arithmetic"], tmp), sof=0xc9)
    add_jpeg("cj_arith_444_progressive.jpg",
             cjpeg(scene, ["-arithmetic", "-progressive", "-sample", "1x1"], tmp), sof=0xca)
    add_jpeg("cj_rgb.jpg", cjpeg(scene, ["-rgb"], tmp), adobe=0,
             comps=[(ord("R"), 1, 1), (ord("G"), 1, 1), (ord("B"), 1, 1)])
    add_jpeg("cj_rgb_progressive.jpg", cjpeg(scene, ["-rgb", "-progressive"], tmp), adobe=0,
             sof=0xc2)
    add_jpeg("cj_grey_from_colour.jpg", cjpeg(scene, ["-grayscale"], tmp), comps=[(1, 1, 1)])
    add_jpeg("cj_grey_rst_progressive.jpg",
             cjpeg(scene[:, :, 0], ["-restart", "1", "-progressive"], tmp), sof=0xc2,
             comps=[(1, 1, 1)], rst=True)
    add_jpeg("cj_noninterleaved.jpg",
             cjpeg(scene, ["-sample", "2x1", "-scans", "0;\n1;\n2;\n"], tmp), sof=0xc0,
             scans=3)
    add_jpeg("cj_q100_444_optimize.jpg",
             cjpeg(scene, ["-quality", "100", "-sample", "1x1", "-optimize"], tmp),
             comps=[(1, 1, 1), (2, 1, 1), (3, 1, 1)])
    # 4-component JPEGs: YCCK (Adobe transform 2, libjpeg converts to CMYK) and CMYK
    # (transform 0), both through OpenCV's inverted-CMYK -> BGR formula.
    cmyk = np.dstack([scene, rng.integers(0, 256, scene.shape[:2], dtype=np.uint8)])
    cmyk[:, :30, 3] = 255  # K = 255 (OpenCV: colour from C/M/Y unchanged), and K = 0 below
    cmyk[40:, :, 3] = 0
    for sampling in ("444", "422", "420", "440", "411"):
        ycck = turbojpeg_cmyk(cmyk, sampling)
        add_jpeg(f"tj_ycck_{sampling}.jpg", ycck, adobe=2)
        add_jpeg(f"tj_cmyk_{sampling}.jpg",
                 None if ycck is None else set_adobe_transform(ycck, 0), adobe=0)
    ycck_prog = turbojpeg_cmyk(cmyk, "420", TJFLAG_PROGRESSIVE)
    add_jpeg("tj_ycck_progressive.jpg", ycck_prog, adobe=2, sof=0xc2)
    add_jpeg("tj_cmyk_progressive.jpg",
             None if ycck_prog is None else set_adobe_transform(ycck_prog, 0), adobe=0,
             sof=0xc2)
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
    # Orientations on an odd-sized 4:2:2 JPEG and on a CMYK one (the transform is applied after
    # the colour conversion, on the final BGR pixels).
    for base in ("cj_422.jpg", "tj_cmyk_420.jpg"):
        if base not in files:
            continue
        with open(files[base][0], "rb") as fh:
            base_bytes = fh.read()
        for o in range(1, 9):
            name = f"exif_o{o}_{base}"
            add(name, insert_after_app0(base_bytes, [app1(b"Exif\0\0" + tiff(o, o % 2 == 1))]),
                "jpeg")
            exif_cases.append((name, base, o))
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
    # Corrupt entropy-coded data: libjpeg warns and invents pixels, OpenCV returns them; we
    # refuse with libjpeg's message. Bytes in the middle of the scan (not next to an 0xff).
    mid = (first_scan_data(plain_jpg) + len(plain_jpg)) // 2
    while plain_jpg[mid - 1] == 0xff or plain_jpg[mid] == 0xff:
        mid += 1
    libjpeg_refusals = {  # name -> what libjpeg says (must appear in our error message)
        # all-ones bits: no valid Huffman code
        "diff_bad_huffman.jpg": (plain_jpg[:mid] + b"\xff\x00" * 6 + plain_jpg[mid + 12:],
                                 "libjpeg: Corrupt JPEG data: bad Huffman code"),
        # a restart marker in a file without restart interval
        "diff_stray_rst.jpg": (plain_jpg[:mid] + b"\xff\xd3" + plain_jpg[mid:],
                               "libjpeg: Corrupt JPEG data: premature end of data segment"),
    }
    # More than rtmo::detail::kJpegMaxScans (1000) scans: the first scan of a progressive file
    # (DC, first pass) repeated right after itself with the same tables; libjpeg only warns
    # about the bogus progression and OpenCV decodes it.
    ok, enc = cv2.imencode(".jpg", asym, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    prog = enc.tobytes()
    s1 = prog.index(b"\xff\xda")
    s2 = first_scan_data(prog)
    while prog[s2] != 0xff or prog[s2 + 1] == 0 or 0xd0 <= prog[s2 + 1] <= 0xd7:
        s2 += 2 if prog[s2] == 0xff else 1
    libjpeg_refusals["diff_1001_scans.jpg"] = (
        prog[:s2] + prog[s1:s2] * 1000 + prog[s2:], "more than 1000 scans")
    for name, (data, _) in libjpeg_refusals.items():
        add(name, data, "documented")
    # Refused by OpenCV too (the 8-bit libjpeg62-turbo has no 12-bit decoder): our error names
    # the file and says what libjpeg said.
    sof = plain_jpg.index(b"\xff\xc0")
    both_fail = {"fail_precision12.jpg": (plain_jpg[:sof + 4] + b"\x0c" + plain_jpg[sof + 5:],
                                          "libjpeg: Unsupported JPEG data precision 12")}
    for name, (data, _) in both_fail.items():
        add(name, data, "documented")

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
    jpeg_pixels = 0
    jpeg_files = 0
    for name, expect in sorted(jpeg_expect.items()):  # the generated files are what we claim
        with open(files[name][0], "rb") as fh:
            info = jpeg_info(fh.read())
        for key, want in expect.items():
            got = info[key] > 0 if key == "rst" else info[key]
            if got != want:
                print(f"FAIL {name}: generator wrote {key} = {got}, expected {want} ({info})")
                failures += 1

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
        else:  # JPEG: libjpeg-turbo with OpenCV's settings, so exact as well
            jpeg_pixels += exp.shape[0] * exp.shape[1]
            jpeg_files += 1
            if diff.any():
                print(f"FAIL {name}: {int(np.count_nonzero(diff.max(-1)))} pixels differ from "
                      f"OpenCV (max {diff.max()})")
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
    for name, (_, said) in {**libjpeg_refusals, **both_fail}.items():
        got, err = ours_or_error(name)
        cv_got = cv2.imread(files[name][0], cv2.IMREAD_COLOR)
        opencv_decodes = name not in both_fail
        if (got is not None or said not in err or files[name][0] not in err or
                (cv_got is not None) != opencv_decodes):
            print(f"FAIL {name}: expected our error naming the file and {said!r}, got {err!r}; "
                  f"OpenCV {'should' if opencv_decodes else 'should not'} decode it "
                  f"(got {None if cv_got is None else cv_got.shape})")
            failures += 1
        else:
            print(f"{'documented difference' if opencv_decodes else 'both refuse'} {name}: "
                  f"OpenCV {'decodes' if opencv_decodes else 'refuses'}, we refuse: {err}")

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
    print(f"JPEG: {jpeg_files} files ({len(jpeg_expect)} generated with checked markers), "
          f"{jpeg_pixels} pixels compared with cv2.imread, differing pixels: "
          f"{'see FAIL lines' if failures else 0}")
    for name in skipped:
        print(f"SKIPPED {name}: its generator (cjpeg from libjpeg-turbo-progs, or "
              f"libturbojpeg.so.0 from libturbojpeg0) is not installed; run tools/setup.sh")
    print(f"EXIF cases: {len(exif_cases)}")
    if failures:
        print(f"{failures} FAILED")
        return 1
    print("all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
