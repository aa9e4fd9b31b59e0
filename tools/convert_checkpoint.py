#!/usr/bin/python3
"""Convert an official mmpose RTMO checkpoint (.pth) into rtmo.cpp's .rtmo format.

    /usr/bin/python3 tools/convert_checkpoint.py IN.pth OUT.rtmo [--dataset body7] [--summary]

Python standard library only: no torch, no numpy. Reads

  * the legacy torch.save format (`_use_new_zipfile_serialization=False`, what mmpose's
    tools/misc/publish_model.py writes for every released checkpoint): five pickles
    (magic number, protocol version, sys_info, the object with persistent ids for the
    storages, the sorted storage keys) followed by each storage's raw bytes, prefixed by its
    element count as a little-endian int64;
  * the zip format (torch >= 1.6 default): <prefix>/data.pkl plus <prefix>/data/<key>;
  * `{'meta': ..., 'state_dict': ...}` dicts as released, and bare state_dicts.

Unpickling never imports or calls anything outside a short allow-list: every other global
(numpy arrays in `meta`, mmengine objects, ...) becomes an inert placeholder.

Checks every tensor against weights/layouts/keys_rtmo-{t,s,m,l}.txt (the official
state_dict layouts of mmpose v1.3.2; keypoint-indexed shapes are scaled for other keypoint
counts), drops the training-only entries on purpose and lists them, and fails naming every
unknown, missing or mis-shaped key. The output format is specified in weights/FORMAT.md.
"""

import argparse
import hashlib
import io
import os
import pickle
import re
import struct
import sys
import zipfile
import zlib
from array import array

HERE = os.path.dirname(os.path.abspath(__file__))
LAYOUT_DIR = os.path.join(HERE, os.pardir, "weights", "layouts")

OFFICIAL_CHECKPOINTS = """\
official checkpoints (mmpose model zoo, configs/body_2d_keypoint/rtmo/*/*.yml at v1.3.2):
  body7 (17 COCO keypoints, trained on 7 datasets; the recommended ones):
    rtmo-t  https://download.openmmlab.com/mmpose/v1/projects/rtmo/rtmo-t_8xb32-600e_body7-416x416-f48f75cb_20231219.pth
    rtmo-s  https://download.openmmlab.com/mmpose/v1/projects/rtmo/rtmo-s_8xb32-600e_body7-640x640-dac2bf74_20231211.pth
    rtmo-m  https://download.openmmlab.com/mmpose/v1/projects/rtmo/rtmo-m_16xb16-600e_body7-640x640-39e78cc4_20231211.pth
    rtmo-l  https://download.openmmlab.com/mmpose/v1/projects/rtmo/rtmo-l_16xb16-600e_body7-640x640-b37118ce_20231211.pth
  coco (17 keypoints, COCO only):
    rtmo-s  https://download.openmmlab.com/mmpose/v1/projects/rtmo/rtmo-s_8xb32-600e_coco-640x640-8db55a59_20231211.pth
    rtmo-m  https://download.openmmlab.com/mmpose/v1/projects/rtmo/rtmo-m_16xb16-600e_coco-640x640-6f4e0306_20231211.pth
    rtmo-l  https://download.openmmlab.com/mmpose/v1/projects/rtmo/rtmo-l_16xb16-600e_coco-640x640-516a421f_20231211.pth
  crowdpose (14 keypoints):
    rtmo-s  https://download.openmmlab.com/mmpose/v1/projects/rtmo/rtmo-s_8xb32-700e_crowdpose-640x640-79f81c0d_20231211.pth
    rtmo-m  https://download.openmmlab.com/mmpose/v1/projects/rtmo/rrtmo-m_16xb16-700e_crowdpose-640x640-0eaf670d_20231211.pth
            (sic: "rrtmo-m" is how the model zoo lists it)
    rtmo-l  https://download.openmmlab.com/mmpose/v1/projects/rtmo/rtmo-l_16xb16-700e_crowdpose-640x640-1008211f_20231211.pth
    rtmo-l  https://download.openmmlab.com/mmpose/v1/projects/rtmo/rtmo-l_16xb16-700e_body7-crowdpose-640x640-5bafdc11_20231219.pth
            (body7 pre-training, then CrowdPose)
"""

# --- the .rtmo format (weights/FORMAT.md) ------------------------------------------------
MAGIC = b"RTMOWGTS"
ENDIAN_MARKER = 0x0A0B0C0D
FORMAT_VERSION = 2
HEADER_SIZE = 80  # version 2: the 64 bytes of version 1 + meta_crc32, reserved[8], header_crc32
HEADER_SIZE_V1 = 64
ALIGN = 64
DTYPE_F32 = 0
DTYPE_NAMES = {0: "float32", 1: "float16", 2: "bfloat16", 3: "int32", 4: "int64", 5: "uint8"}
DTYPE_SIZES = {0: 4, 1: 2, 2: 2, 3: 4, 4: 8, 5: 1}


class ConvertError(Exception):
    """A problem with the input; the message names the file, key and expected/found."""


def align_up(n):
    return (n + ALIGN - 1) // ALIGN * ALIGN


# --- model configuration (mirror of rtmo::ModelConfig::ForVariant, rtmo/io/config.cc) ---------
# widen/deepen/input per variant: configs/body_2d_keypoint/rtmo/body7/rtmo-*.py
VARIANTS = {"t": (0.375, 0.33, 416), "s": (0.5, 0.33, 640), "m": (0.75, 0.67, 640),
            "l": (1.0, 1.0, 640)}
STEM_TO_VARIANT = {24: "t", 32: "s", 48: "m", 64: "l"}


def model_config(variant, num_keypoints, dataset):
    """The config block's fields, in the order rtmo/io/weights.cc writes them."""
    widen, deepen, size = VARIANTS[variant]
    cls = int(256 * widen)
    return [
        ("variant", variant),
        ("dataset", dataset),
        ("input_w", size),
        ("input_h", size),
        ("num_keypoints", num_keypoints),
        ("widen_factor", widen),
        ("deepen_factor", deepen),
        ("stem_channels", int(64 * widen)),
        ("stage_channels", [int(c * widen) for c in (128, 256, 512, 1024)]),
        ("stage_blocks", [max(round(n * deepen), 1) for n in (3, 9, 9, 3)]),
        ("spp_kernels", [5, 9, 13]),
        ("neck_hidden", 256),
        ("csp_rep_hidden", int(256 * widen)),
        ("rep_blocks", round(3 * deepen)),
        ("encoder_layers", 1),
        ("encoder_heads", 8),
        ("encoder_ffn", 1024),
        ("projector_out", 2 * cls),
        ("head_cls_channels", cls),
        ("head_stacked_convs", 2),
        ("pose_groups", 8),
        ("pose_channels_per_group", int(36 * widen)),
        ("pose_vec_channels", int(512 * widen)),
        ("head_strides", [16, 32]),
        ("bn_eps_backbone", 1e-3),
        ("bn_eps_neck", 1e-5),
        ("bn_eps_head", 1e-3),
        ("bn_eps_dcc", 1e-5),
        ("ln_eps", 1e-5),
        ("dcc_feat", 128),
        ("gau_expansion", 2),
        ("num_bins_x", 192),
        ("num_bins_y", 256),
        ("dcc_spe_temperature", 300.0),
        ("encoder_pe_temperature", 10000.0),
        ("bbox_padding", 1.25),
    ]


def config_text(fields):
    lines = []
    for key, value in fields:
        if isinstance(value, list):
            value = " ".join(str(v) for v in value)
        else:
            value = repr(value) if isinstance(value, float) else str(value)
        lines.append(key + (" " + value if value != "" else "") + "\n")
    return "".join(lines).encode("ascii")


# --- official layouts ----------------------------------------------------------------------
def is_training_only(name):
    """Entries inference never reads (kept in sync with rtmo::IsTrainingOnly)."""
    return (name == "head.loss_oks.sigmas"
            or name.startswith("head.head_module.out_kpt_reg.")
            or name.startswith("head.dcc.sigma_fc.")
            or name.endswith("num_batches_tracked"))


# Entries whose first dimension is proportional to the keypoint count (17 in the layouts).
_KEYPOINT_SCALED = re.compile(
    r"^head\.(loss_oks\.sigmas|head_module\.out_kpt_(vis|reg)\.\d+\.(weight|bias)|dcc\.pos_enc"
    r"|dcc\.pose_to_kpts\.\d+\.(weight|bias|running_mean|running_var)"
    r"|dcc\.sigma_fc\.0\.(weight|bias))$")


def load_layout(variant, num_keypoints):
    """[(name, dtype, shape)] of the official state_dict, keypoint count applied."""
    path = os.path.join(LAYOUT_DIR, "keys_rtmo-%s.txt" % variant)
    out = []
    with open(path, encoding="ascii") as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            name, dtype, shape = line.rstrip("\n").split("\t")
            shape = [int(x) for x in shape.strip("[]").split(",") if x.strip()]
            if _KEYPOINT_SCALED.match(name):
                assert shape[0] % 17 == 0, (name, shape)
                shape[0] = shape[0] // 17 * num_keypoints
            out.append((name, dtype, tuple(shape)))
    return out


# --- restricted unpickling -----------------------------------------------------------------
class Opaque:
    """Placeholder for any pickled object we do not need (numpy arrays in meta, ...)."""

    def __init__(self, *args, **kwargs):
        self.args = args

    def __setstate__(self, state):
        self.state = state

    def __repr__(self):
        return "<%s>" % type(self).__name__


_opaque_types = {}


def opaque_type(module, name):
    key = module + "." + name
    if key not in _opaque_types:
        _opaque_types[key] = type("Opaque[%s]" % key, (Opaque,), {})
    return _opaque_types[key]


class StorageType:
    """torch.FloatStorage & co.: only the element type matters."""

    def __init__(self, name, fmt, size):  # fmt: array/memoryview code of the raw bytes
        self.name, self.fmt, self.size = name, fmt, size


STORAGE_TYPES = {
    "FloatStorage": StorageType("float32", "f", 4),
    "DoubleStorage": StorageType("float64", "d", 8),
    "HalfStorage": StorageType("float16", "H", 2),
    "BFloat16Storage": StorageType("bfloat16", "H", 2),
    "LongStorage": StorageType("int64", "q", 8),
    "IntStorage": StorageType("int32", "i", 4),
    "ShortStorage": StorageType("int16", "h", 2),
    "CharStorage": StorageType("int8", "b", 1),
    "ByteStorage": StorageType("uint8", "B", 1),
    "BoolStorage": StorageType("bool", "B", 1),
}


class Storage:
    """Where a storage's bytes are: (source file, byte offset, element count, type)."""

    def __init__(self, key, stype, numel):
        self.key, self.stype, self.numel = key, stype, numel
        self.offset = None  # absolute byte offset of element 0 in the source file

    @property
    def nbytes(self):
        return self.numel * self.stype.size


class Tensor:
    def __init__(self, storage, storage_offset, shape, stride):
        self.storage, self.storage_offset = storage, storage_offset
        self.shape, self.stride = tuple(shape), tuple(stride)

    @property
    def numel(self):
        n = 1
        for d in self.shape:
            n *= d
        return n

    def is_contiguous(self):
        expect = 1
        for d, s in zip(reversed(self.shape), reversed(self.stride)):
            if d != 1 and s != expect:
                return False
            expect *= d
        return True


def _is_index(v):
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < (1 << 62)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, *unused):
    if not isinstance(storage, Storage):
        raise ConvertError("tensor rebuilt from %r, expected a storage" % (storage,))
    if not (_is_index(storage_offset) and isinstance(size, (tuple, list))
            and isinstance(stride, (tuple, list)) and len(size) == len(stride) <= 8
            and all(_is_index(v) for v in size) and all(_is_index(v) for v in stride)):
        raise ConvertError("tensor view (offset %r, size %r, stride %r): expected non-negative "
                           "integers, as many strides as dims (at most 8)"
                           % (storage_offset, size, stride))
    return Tensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, *unused):
    return data


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _rebuild_tensor_v2(storage, storage_offset, size, stride)


ALLOWED = {
    ("collections", "OrderedDict"): __import__("collections").OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "bytearray"): bytearray,
    ("builtins", "slice"): slice,
    ("builtins", "complex"): complex,
    ("__builtin__", "set"): set,
}


class RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, f, storages, source):
        super().__init__(f)
        self.storages = storages  # key -> Storage, filled by persistent ids
        self.source = source

    def find_class(self, module, name):
        if (module, name) in ALLOWED:
            return ALLOWED[(module, name)]
        if module == "torch" and name in STORAGE_TYPES:
            return STORAGE_TYPES[name]
        return opaque_type(module, name)

    def persistent_load(self, pid):
        # legacy: ('storage', type, root_key, location, numel, view_metadata)
        # zip:    ('storage', type, key, location, numel)
        if not isinstance(pid, tuple) or not pid or pid[0] not in ("storage", b"storage"):
            raise ConvertError("%s: unsupported persistent id %r (expected a tensor storage)"
                               % (self.source, pid[:1] if isinstance(pid, tuple) else pid))
        stype, key, numel = pid[1], pid[2], pid[4]
        if not isinstance(stype, StorageType):
            raise ConvertError("%s: storage %s has type %r, expected one of torch.%s"
                               % (self.source, key, stype, ", torch.".join(STORAGE_TYPES)))
        if isinstance(key, bytes):
            key = key.decode("ascii")
        if not isinstance(key, str) or not _is_index(numel):
            raise ConvertError("%s: storage id %r with %r elements: expected a string key and a "
                               "non-negative element count" % (self.source, key, numel))
        st = self.storages.get(key)
        if st is None:
            st = self.storages[key] = Storage(key, stype, numel)
        elif st.stype is not stype:
            raise ConvertError("%s: storage %s is viewed as %s and %s" %
                               (self.source, key, st.stype.name, stype.name))
        if len(pid) > 5 and pid[5] is not None:
            # A view of a root storage (old torch versions): (view_key, offset, size).
            view_key, offset, size = pid[5]
            return StorageView(st, offset, size)
        return st


class StorageView(Storage):
    def __init__(self, root, offset, numel):
        super().__init__(root.key, root.stype, numel)
        self.root, self.view_offset = root, offset


def _resolve(t):
    """Turns a tensor on a storage view into one on the root storage."""
    if isinstance(t.storage, StorageView):
        return Tensor(t.storage.root, t.storage.view_offset + t.storage_offset, t.shape, t.stride)
    return t


LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001


def read_checkpoint(path):
    """Returns (object, storages): tensors are Tensor objects with located storages."""
    with open(path, "rb") as f:
        head = f.read(4)
    if head[:2] == b"PK":
        return _read_zip(path)
    if head[:1] == b"\x80":
        return _read_legacy(path)
    raise ConvertError("%s: not a torch checkpoint: expected a zip archive ('PK') or a "
                       "legacy pickle (0x80), found %r" % (path, head))


def _read_legacy(path):
    storages = {}
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        try:
            magic = pickle.Unpickler(f).load()
            if magic != LEGACY_MAGIC:
                raise ConvertError("%s: legacy torch magic number: expected %#x, found %r"
                                   % (path, LEGACY_MAGIC, magic))
            proto = pickle.Unpickler(f).load()
            if proto != LEGACY_PROTOCOL:
                raise ConvertError("%s: legacy torch protocol: expected %d, found %r"
                                   % (path, LEGACY_PROTOCOL, proto))
            sys_info = RestrictedUnpickler(f, {}, path).load()
            if isinstance(sys_info, dict) and sys_info.get("little_endian") is False:
                raise ConvertError("%s: sys_info.little_endian: expected True, found False "
                                   "(big-endian checkpoints are not supported)" % path)
            obj = RestrictedUnpickler(f, storages, path).load()
            keys = pickle.Unpickler(f).load()
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError) as e:
            raise ConvertError("%s: corrupt legacy torch checkpoint: %s" % (path, e)) from None
        if not isinstance(keys, list):
            raise ConvertError("%s: storage key list: expected a list, found %r" % (path, keys))
        pos = f.tell()
        for key in keys:
            st = storages.get(key)
            if st is None:
                raise ConvertError("%s: storage %r in the key list is not used by any tensor"
                                   % (path, key))
            f.seek(pos)
            raw = f.read(8)
            if len(raw) != 8:
                raise ConvertError("%s: storage %s: expected an 8-byte element count at byte "
                                   "%d, found end of file (truncated)" % (path, key, pos))
            (numel,) = struct.unpack("<q", raw)
            if numel != st.numel:
                raise ConvertError("%s: storage %s: expected %d elements, found %d"
                                   % (path, key, st.numel, numel))
            st.offset = pos + 8
            pos = st.offset + st.nbytes
            if pos > size:
                raise ConvertError("%s: storage %s: expected %d bytes at byte %d, the file ends "
                                   "at %d (truncated)" % (path, key, st.nbytes, st.offset, size))
    missing = [k for k, s in storages.items() if s.offset is None]
    if missing:
        raise ConvertError("%s: storages %s are used but not stored" % (path, missing[:5]))
    return obj, storages


def _read_zip(path):
    storages = {}
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as e:
        raise ConvertError("%s: corrupt zip checkpoint: %s" % (path, e)) from None
    with zf:
        names = zf.namelist()
        pkl = [n for n in names if n.endswith("data.pkl") and n.count("/") == 1]
        if len(pkl) != 1:
            raise ConvertError("%s: zip checkpoint: expected one <prefix>/data.pkl, found %s"
                               % (path, pkl or "none"))
        prefix = pkl[0][:-len("data.pkl")]
        if prefix + "byteorder" in names:
            order = zf.read(prefix + "byteorder").decode("ascii", "replace").strip()
            if order != "little":
                raise ConvertError("%s: byteorder: expected 'little', found %r" % (path, order))
        try:
            obj = RestrictedUnpickler(io.BytesIO(zf.read(pkl[0])), storages, path).load()
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError) as e:
            raise ConvertError("%s: corrupt data.pkl: %s" % (path, e)) from None
        for key, st in storages.items():
            name = prefix + "data/" + key
            try:
                info = zf.getinfo(name)
            except KeyError:
                raise ConvertError("%s: zip entry %s: expected storage %s, not found"
                                   % (path, name, key)) from None
            if info.compress_type != zipfile.ZIP_STORED:
                raise ConvertError("%s: zip entry %s: expected stored (uncompressed) data as "
                                   "torch.save writes it, found compression method %d"
                                   % (path, name, info.compress_type))
            if info.file_size < st.nbytes:
                raise ConvertError("%s: zip entry %s: expected %d bytes, found %d"
                                   % (path, name, st.nbytes, info.file_size))
            st.offset = _zip_data_offset(path, info)
    return obj, storages


def _zip_data_offset(path, info):
    """Byte offset of a stored entry's data: after its local header (30 B + name + extra)."""
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        local = f.read(30)
    if len(local) != 30 or local[:4] != b"PK\x03\x04":
        raise ConvertError("%s: zip entry %s: bad local header" % (path, info.filename))
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    return info.header_offset + 30 + name_len + extra_len


def find_state_dict(obj, path):
    """The state_dict inside a checkpoint: obj['state_dict'] or obj itself; meta or {}."""
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        meta = obj.get("meta")
        return obj["state_dict"], meta if isinstance(meta, dict) else {}
    if isinstance(obj, dict) and obj and all(isinstance(v, Tensor) for v in obj.values()):
        return obj, {}
    keys = list(obj)[:8] if isinstance(obj, dict) else type(obj).__name__
    raise ConvertError("%s: expected {'meta', 'state_dict'} or a bare state_dict of tensors, "
                       "found %s" % (path, keys))


def tensor_bytes(f, t, name):
    """float32 little-endian bytes of tensor `t` (contiguous copy), read from file `f`."""
    t = _resolve(t)
    st = t.storage
    n = t.numel
    es = st.stype.size
    if n == 0:
        return b""
    # Bounds: the highest element the view touches must lie inside the storage.
    last = t.storage_offset + sum((d - 1) * s for d, s in zip(t.shape, t.stride))
    if t.storage_offset < 0 or any(s < 0 for s in t.stride) or last >= st.numel:
        raise ConvertError("tensor %s: view (offset %d, shape %s, stride %s) reaches element %d "
                           "of a %d-element storage" % (name, t.storage_offset, list(t.shape),
                                                        list(t.stride), last, st.numel))
    if t.is_contiguous():
        f.seek(st.offset + t.storage_offset * es)
        raw = f.read(n * es)
    else:
        f.seek(st.offset + t.storage_offset * es)
        span = f.read((last - t.storage_offset + 1) * es)
        mv = memoryview(span).cast(st.stype.fmt)
        raw = _gather(mv, t.shape, t.stride).tobytes()
    if len(raw) != n * es:
        raise ConvertError("tensor %s: expected %d bytes, found end of file" % (name, n * es))
    return _to_f32(raw, st.stype, name)


def _gather(mv, shape, stride):
    """Strided elements of `mv` in row-major order of `shape`, as an array of mv's format."""
    out = array(mv.format)
    if not shape:
        out.append(mv[0])
        return out

    def rec(dim, base):
        if dim == len(shape) - 1:
            s = stride[dim]
            out.extend(mv[base:base + (shape[dim] - 1) * s + 1:s] if s > 0 else
                       [mv[base]] * shape[dim])
            return
        for i in range(shape[dim]):
            rec(dim + 1, base + i * stride[dim])

    rec(0, 0)
    return out


def _to_f32(raw, stype, name):
    if stype.name == "float32":
        return raw
    if stype.name == "float64":
        return array("f", array("d", raw)).tobytes()
    if stype.name == "float16":
        return array("f", struct.unpack("<%de" % (len(raw) // 2), raw)).tobytes()
    if stype.name == "bfloat16":
        return array("I", (v << 16 for v in array("H", raw))).tobytes()
    raise ConvertError("tensor %s: expected a floating-point tensor, found %s"
                       % (name, stype.name))


# --- conversion ----------------------------------------------------------------------------
def detect_dataset(meta, num_keypoints):
    """Best effort: 'crowdpose' for 14 keypoints, else from the training config in meta."""
    if num_keypoints == 14:
        return "crowdpose"
    text = " ".join(str(meta.get(k, "")) for k in ("experiment_name", "cfg", "config"))
    for name in ("body7", "crowdpose", "coco"):
        if name in text:
            return name
    if "CombinedDataset" in text:
        return "body7"
    return ""


def convert(src, dst, dataset=None, log=print):
    obj, _ = read_checkpoint(src)
    sd, meta = find_state_dict(obj, src)
    for k, v in sd.items():
        if not isinstance(k, str):
            raise ConvertError("%s: state_dict key %r: expected a string" % (src, k))
        if not isinstance(v, Tensor):
            raise ConvertError("%s: state_dict[%r]: expected a tensor, found %s"
                               % (src, k, type(v).__name__))

    stem = sd.get("backbone.stem.conv.conv.weight")
    if stem is None:
        raise ConvertError("%s: missing key backbone.stem.conv.conv.weight: expected an RTMO "
                           "checkpoint (CSPDarknet Focus stem)" % src)
    if stem.shape[0] not in STEM_TO_VARIANT:
        raise ConvertError("%s: backbone.stem.conv.conv.weight: expected 24/32/48/64 output "
                           "channels (rtmo-t/s/m/l), found shape %s" % (src, list(stem.shape)))
    variant = STEM_TO_VARIANT[stem.shape[0]]
    vis = sd.get("head.head_module.out_kpt_vis.0.weight")
    if vis is None:
        raise ConvertError("%s: missing key head.head_module.out_kpt_vis.0.weight (needed to "
                           "count keypoints)" % src)
    num_keypoints = vis.shape[0]
    if not 1 <= num_keypoints <= 1024:
        raise ConvertError("%s: head.head_module.out_kpt_vis.0.weight: expected 1..1024 "
                           "keypoints, found %d" % (src, num_keypoints))
    if dataset is None:
        dataset = detect_dataset(meta, num_keypoints)
    if not re.fullmatch(r"[A-Za-z0-9._-]{0,64}", dataset):
        raise ConvertError("--dataset: expected a word of [A-Za-z0-9._-], found %r" % dataset)

    layout = load_layout(variant, num_keypoints)
    layout_names = {n for n, _, _ in layout}
    unknown = [k for k in sd if k not in layout_names]
    missing = [n for n, _, _ in layout if n not in sd and not is_training_only(n)]
    wrong = []
    for name, dtype, shape in layout:
        t = sd.get(name)
        if t is not None and t.shape != shape:
            wrong.append("%s: expected %s, found %s" % (name, list(shape), list(t.shape)))
        elif t is not None and not is_training_only(name) and \
                _resolve(t).storage.stype.name not in ("float32", "float64", "float16",
                                                       "bfloat16"):
            wrong.append("%s: expected float32, found %s" % (name, t.storage.stype.name))
    problems = []
    if unknown:
        problems.append("%d unknown key(s) (not in the official rtmo-%s layout): %s"
                        % (len(unknown), variant, ", ".join(unknown)))
    if missing:
        problems.append("%d missing key(s): %s" % (len(missing), ", ".join(missing)))
    if wrong:
        problems.append("%d wrong shape(s)/dtype(s): %s" % (len(wrong), "; ".join(wrong)))
    if problems:
        raise ConvertError("%s (detected rtmo-%s, %d keypoints): %s"
                           % (src, variant, num_keypoints, " | ".join(problems)))

    dropped = [n for n, _, _ in layout if is_training_only(n) and n in sd]
    keep = [(n, shape) for n, _, shape in layout if not is_training_only(n)]
    cfg = model_config(variant, num_keypoints, dataset)
    log("%s: rtmo-%s, %d keypoints, dataset %s; dropping %d training-only entries: %s"
        % (src, variant, num_keypoints, dataset or "(unknown)", len(dropped),
           _summarize_dropped(dropped)))
    write_rtmo(src, dst, cfg, keep, sd)
    return variant, num_keypoints, dataset


def _summarize_dropped(names):
    bn = [n for n in names if n.endswith("num_batches_tracked")]
    other = [n for n in names if not n.endswith("num_batches_tracked")]
    return ", ".join(other + (["%d x *.num_batches_tracked" % len(bn)] if bn else []))


def write_rtmo(src, dst, cfg, keep, sd):
    """Writes version 2: every tensor's CRC-32 (zlib.crc32, the same CRC the C++ reader
    computes) goes into its table entry, so the data are read once, before the table is
    written; the table and header checksums follow (weights/FORMAT.md)."""
    text = config_text(cfg)
    table_size = sum(4 + len(n) + 8 + 8 * len(s) + 16 + 4 for n, s in keep)
    table_offset = HEADER_SIZE + len(text)
    offset = align_up(table_offset + table_size)
    offsets = []
    for name, shape in keep:
        nbytes = 4
        for d in shape:
            nbytes *= d
        offsets.append((offset, nbytes))
        offset = align_up(offset + nbytes)
    file_size = offset
    tmp = dst + ".tmp"
    try:
        with open(src, "rb") as fin, open(tmp, "wb") as out:
            # Data first, at their final offsets, computing each tensor's CRC as it goes.
            crcs = []
            for (name, shape), (off, nbytes) in zip(keep, offsets):
                data = tensor_bytes(fin, sd[name], name)
                assert len(data) == nbytes, (name, len(data), nbytes)
                out.seek(off)
                out.write(data)
                crcs.append(zlib.crc32(data))
            out.truncate(file_size)  # zero padding after the last tensor (and in the gaps)
            table = bytearray()
            for (name, shape), (off, nbytes), crc in zip(keep, offsets, crcs):
                enc = name.encode("ascii")
                table += struct.pack("<I", len(enc)) + enc
                table += struct.pack("<II", DTYPE_F32, len(shape))
                table += struct.pack("<%dQ" % len(shape), *shape)
                table += struct.pack("<QQI", off, nbytes, crc)
            assert len(table) == table_size
            meta = text + bytes(table)
            header = MAGIC + struct.pack("<IIQQQQQQ", ENDIAN_MARKER, FORMAT_VERSION, file_size,
                                         HEADER_SIZE, len(text), table_offset, table_size,
                                         len(keep))
            header += struct.pack("<I8x", zlib.crc32(meta))
            header += struct.pack("<I", zlib.crc32(header))
            assert len(header) == HEADER_SIZE
            out.seek(0)
            out.write(header + meta)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        # Never leave a partial output behind (the .rtmo appears only when complete).
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    os.replace(tmp, dst)


# --- reading .rtmo (for summaries and tests; the C++ reader is rtmo/io/weights.cc) ------------
def read_rtmo(path, with_data=False, verify=True):
    """Parses an .rtmo file (version 1 or 2): {'config': {key: str}, 'tensors': [(name,
    dtype, shape, offset, nbytes[, bytes])], 'file_size': int, 'version': int}. Checks
    structure and (version 2, `verify`) every checksum, naming the tensor whose data do not
    match; not every rule the C++ reader checks."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(HEADER_SIZE_V1)
        if len(head) < HEADER_SIZE_V1 or head[:8] != MAGIC:
            raise ConvertError("%s: not a .rtmo file (magic %r)" % (path, head[:8]))
        marker, version, file_size, cfg_off, cfg_size, tab_off, tab_size, count = \
            struct.unpack_from("<IIQQQQQQ", head, 8)
        header_size = HEADER_SIZE if version == FORMAT_VERSION else HEADER_SIZE_V1
        if marker != ENDIAN_MARKER or version not in (1, FORMAT_VERSION) or \
                file_size != size or cfg_off != header_size or \
                tab_off != cfg_off + cfg_size or tab_off + tab_size > size:
            raise ConvertError("%s: bad header: marker %#x version %d file_size %d (actual %d)"
                               % (path, marker, version, file_size, size))
        head += f.read(header_size - HEADER_SIZE_V1)
        # Only the header, config and table are read whole; tensor data is read on demand.
        meta = f.read(cfg_size + tab_size)
        if version >= 2 and verify:
            meta_crc, head_crc = struct.unpack_from("<I8xI", head, 64)
            if zlib.crc32(head[:76]) != head_crc:
                raise ConvertError("%s: header checksum mismatch (corrupt file)" % path)
            if zlib.crc32(meta) != meta_crc:
                raise ConvertError("%s: config block + tensor table checksum mismatch "
                                   "(corrupt file)" % path)
        config = {}
        for line in meta[:cfg_size].decode("ascii").splitlines():
            key, _, value = line.partition(" ")
            config[key] = value
        tensors = []
        p = cfg_size
        for _ in range(count):
            (n,) = struct.unpack_from("<I", meta, p)
            name = meta[p + 4:p + 4 + n].decode("ascii")
            p += 4 + n
            dtype, ndim = struct.unpack_from("<II", meta, p)
            p += 8
            shape = tuple(struct.unpack_from("<%dQ" % ndim, meta, p))
            p += 8 * ndim
            off, nbytes = struct.unpack_from("<QQ", meta, p)
            p += 16
            crc = None
            if version >= 2:
                (crc,) = struct.unpack_from("<I", meta, p)
                p += 4
            entry = (name, DTYPE_NAMES.get(dtype, str(dtype)), shape, off, nbytes)
            if with_data or (crc is not None and verify):
                f.seek(off)
                data = f.read(nbytes)
                if crc is not None and verify and zlib.crc32(data) != crc:
                    raise ConvertError("%s: tensor '%s': data checksum mismatch (corrupt file)"
                                       % (path, name))
                if with_data:
                    entry += (data,)
            tensors.append(entry)
    if p != cfg_size + tab_size:
        raise ConvertError("%s: table_size %d, entries use %d" % (path, tab_size, p - cfg_size))
    return {"config": config, "tensors": tensors, "file_size": size, "version": version}


def summary(path):
    """The lines `--summary` prints for an .rtmo file."""
    info = read_rtmo(path)
    c = info["config"]
    params = 0
    for _, _, shape, _, _ in info["tensors"]:
        n = 1
        for d in shape:
            n *= d
        params += n
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return [
        "file:       %s" % path,
        "model:      rtmo-%s" % c.get("variant", "?"),
        "dataset:    %s" % (c.get("dataset") or "(unknown)"),
        "input:      %sx%s" % (c.get("input_w", "?"), c.get("input_h", "?")),
        "keypoints:  %s" % c.get("num_keypoints", "?"),
        "tensors:    %d (float32, BatchNorm unfused)" % len(info["tensors"]),
        "parameters: %d" % params,
        "file size:  %d bytes (%.1f MB)" % (info["file_size"], info["file_size"] / 1e6),
        "sha256:     %s" % h.hexdigest(),
    ]


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Convert an official mmpose RTMO checkpoint (.pth, legacy or zip torch "
                    "format) into the .rtmo format of rtmo.cpp (weights/FORMAT.md). Standard "
                    "library only.",
        epilog=OFFICIAL_CHECKPOINTS, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", help="checkpoint .pth (torch.save, legacy or zip format)")
    ap.add_argument("output", help="output .rtmo file (written atomically)")
    ap.add_argument("--dataset", default=None,
                    help="dataset name stored in the file (body7, coco, crowdpose); default: "
                         "from the checkpoint's meta, 'crowdpose' for 14 keypoints")
    ap.add_argument("--summary", action="store_true",
                    help="print variant, input size, keypoints, tensors, parameters, file "
                         "size and sha256 of the output")
    ap.add_argument("--quiet", action="store_true", help="no progress line")
    args = ap.parse_args(argv)
    try:
        convert(args.input, args.output, args.dataset,
                log=(lambda *a: None) if args.quiet else
                (lambda m: print(m, file=sys.stderr)))
    except ConvertError as e:
        print("convert_checkpoint: error: %s" % e, file=sys.stderr)
        return 1
    except OSError as e:
        print("convert_checkpoint: error: %s" % e, file=sys.stderr)
        return 1
    if args.summary:
        print("\n".join(summary(args.output)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
