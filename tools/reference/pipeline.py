"""The official RTMO test-time pipeline around model.RTMO, in plain PyTorch/NumPy/OpenCV.

image (BGR uint8, as cv2.imread) -> BottomupResize letterbox -> network -> predict():
priors, box decode, sigmoid, strict `> 0.1` filter, descending sort, greedy NMS (IoU > 0.65),
DCC on the kept cells, box clamp, mapping back to image pixels.

Citations `file:line` are relative to the mmpose repository root at v1.3.2.

Precision: predict() runs in the dtype of the model's parameters. float32 is the official
pipeline, bit for bit. After `model.double()` it is the float64 reference: the input, grid
priors, strides, IoU epsilon, letterbox centre/scale and the mapping back to the image are
all float64 (nothing is rounded to float32 anywhere), so it is the exact-arithmetic result
up to float64 rounding.
"""

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np
import torch

from model import HEAD_STRIDES, NUM_KEYPOINTS, RTMO

# Test-time thresholds: configs/body_2d_keypoint/rtmo/body7/rtmo-s_8xb32-600e_body7-640x640.py
# :531-535 (test_cfg score_thr=0.1, nms_thr=0.65).
SCORE_THR = 0.1
NMS_THR = 0.65
# Pad value of the letterbox: config :343 BottomupResize(pad_val=(114, 114, 114)).
PAD_VALUE = 114
# DCC box padding: mmpose/models/heads/hybrid_heads/rtmo_head.py:705 bbox_padding=1.25.
BBOX_PADDING = 1.25
# Smallest IoU union: mmpose/structures/bbox/bbox_overlaps.py:15 eps=1e-6.
IOU_EPS = 1e-6


# --- pre-processing ---------------------------------------------------------------------------

@dataclass
class Letterbox:
    """What BottomupResize (mmpose/datasets/transforms/bottomup_transforms.py:538-611) stores:
    input_size (W, H) ints, input_center and input_scale float32 [2] (float64 in the float64
    reference), plus the warp matrix."""
    input_size: Tuple[int, int]
    center: np.ndarray   # float32 [2] (official) or float64 [2]
    scale: np.ndarray    # float32 [2] (official) or float64 [2]
    matrix: np.ndarray   # float64 [2, 3], image -> network input


def letterbox_params(img_w: int, img_h: int, in_w: int, in_h: int,
                     dtype=np.float32) -> Letterbox:
    """Closed-form BottomupResize 'fit' transform, use_udp=False.

    l.517-520: rsz_w = min(W, H*w/h), rsz_h = min(H, W*h/w) (floats, not rounded);
    l.576-581: center = (w/2, h/2) and scale = (w*W/rsz_w, h*H/rsz_h) as float32.
    get_warp_matrix (mmpose/structures/bbox/transforms.py:372-435) with rot 0 maps the box
    (center, scale) onto the output: a uniform scale s = min(W/w, H/h) and the image CENTRED:
    M = [[s, 0, W/2 - s*w/2], [0, s, H/2 - s*h/2]]. Using this M in cv2.warpAffine gives the
    official input bit for bit (tests/tools/test_reference.py checks it against a
    re-derivation of get_warp_matrix). dtype: of center and scale (np.float32 as mmpose;
    np.float64 for the float64 reference, where they are not rounded)."""
    ratio = img_w / img_h
    rsz_w = min(in_w, in_h * ratio)
    rsz_h = min(in_h, in_w / ratio)
    center = np.array([img_w / 2, img_h / 2], dtype=dtype)
    scale = np.array([img_w * in_w / rsz_w, img_h * in_h / rsz_h], dtype=dtype)
    s = min(in_w / img_w, in_h / img_h)
    matrix = np.array([[s, 0.0, in_w / 2 - s * img_w / 2],
                       [0.0, s, in_h / 2 - s * img_h / 2]], dtype=np.float64)
    return Letterbox((in_w, in_h), center, scale, matrix)


def letterbox(img_bgr: np.ndarray, in_w: int, in_h: int,
              dtype=np.float32) -> Tuple[np.ndarray, Letterbox]:
    """img: [h, w, 3] uint8 BGR -> ([H, W, 3] uint8 BGR, Letterbox with `dtype` centre/scale).

    cv2.warpAffine with INTER_LINEAR and a constant 114 border (l.588-593) -- not cv2.resize:
    OpenCV's fixed-point bilinear warp does no anti-aliasing when shrinking."""
    if img_bgr.dtype != np.uint8 or img_bgr.ndim != 3 or img_bgr.shape[2] != 3:
        raise ValueError(f'expected an [h, w, 3] uint8 BGR image, got {img_bgr.dtype} '
                         f'{img_bgr.shape}')
    h, w = img_bgr.shape[:2]
    lb = letterbox_params(w, h, in_w, in_h, dtype)
    out = cv2.warpAffine(img_bgr, lb.matrix, (in_w, in_h), flags=cv2.INTER_LINEAR,
                         borderValue=(PAD_VALUE, PAD_VALUE, PAD_VALUE))
    return out, lb


def to_input_tensor(img_bgr: np.ndarray, dtype=torch.float32) -> torch.Tensor:
    """[H, W, 3] uint8 -> [1, 3, H, W] `dtype` BGR in 0..255 (integers: exact in any float
    type): PoseDataPreprocessor with mean 0, std 1, bgr_to_rgb False (config :418-423) does
    no normalisation or channel swap."""
    return torch.from_numpy(np.ascontiguousarray(img_bgr.transpose(2, 0, 1))).to(dtype)[None]


# --- post-processing --------------------------------------------------------------------------

def grid_priors(featmap_sizes: List[Tuple[int, int]], strides=HEAD_STRIDES,
                dtype=torch.float32) -> Tuple[torch.Tensor, torch.Tensor]:
    """-> (priors [A, 2] (x, y), strides [A]) over all levels, level 0 first, cells row-major,
    in `dtype` (every value is a multiple of 0.5 below 2^24: exact in float32 and float64).

    MlvlPointGenerator(centralize_points=True) (mmpose/models/task_modules/prior_generators/
    mlvl_point_generator.py:34 offset 0, l.133-147 `+ (stride - 1) / 2`):
    prior = (j*s + (s-1)/2, i*s + (s-1)/2), e.g. 7.5, 23.5, ... for s = 16."""
    priors, stride_list = [], []
    for (h, w), s in zip(featmap_sizes, strides):
        xs = (torch.arange(w) * s).to(dtype) + float(s - 1) / 2.0
        ys = (torch.arange(h) * s).to(dtype) + float(s - 1) / 2.0
        yy, xx = torch.meshgrid(ys, xs, indexing='ij')
        priors.append(torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=-1))
        stride_list.append(torch.full((h * w,), float(s), dtype=dtype))
    return torch.cat(priors), torch.cat(stride_list)


def flatten_levels(maps: List[torch.Tensor]) -> torch.Tensor:
    """[1, C, h, w] per level -> [A, C]: NCHW -> (h*w, C) row-major, level 0 first
    (mmpose/models/heads/hybrid_heads/yoloxpose_head.py:775-782)."""
    return torch.cat([m.permute(0, 2, 3, 1).flatten(1, 2) for m in maps], dim=1)[0]


def decode_boxes(deltas: torch.Tensor, priors: torch.Tensor, strides: torch.Tensor):
    """deltas [A, 4] (dx, dy, log w, log h) -> boxes [A, 4] (x1, y1, x2, y2)
    (yoloxpose_head.py:713-748): xy = d[:2]*s + prior, wh = exp(d[2:])*s."""
    s = strides[:, None]
    xy = deltas[:, :2] * s + priors
    wh = deltas[:, 2:].exp() * s
    return torch.stack([xy[:, 0] - wh[:, 0] / 2, xy[:, 1] - wh[:, 1] / 2,
                        xy[:, 0] + wh[:, 0] / 2, xy[:, 1] + wh[:, 1] / 2], -1)


def box_iou(box: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """box [4], boxes [M, 4] -> IoU [M]; areas without "+1", union clamped to >= 1e-6
    (mmpose/structures/bbox/bbox_overlaps.py:73-109)."""
    area1 = (box[2] - box[0]) * (box[3] - box[1])
    area2 = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    lt = torch.max(box[:2], boxes[:, :2])
    rb = torch.min(box[2:], boxes[:, 2:])
    wh = (rb - lt).clamp(min=0)
    overlap = wh[:, 0] * wh[:, 1]
    union = torch.max(area1 + area2 - overlap, torch.tensor([IOU_EPS], dtype=boxes.dtype))
    return overlap / union


def nms(boxes: torch.Tensor, scores: torch.Tensor, thr: float = NMS_THR) -> torch.Tensor:
    """Greedy class-agnostic NMS (mmpose/evaluation/functional/nms.py:335-369 nms_torch):
    visit by descending score, drop every remaining box with IoU > thr (strict).
    boxes [M, 4], scores [M] -> kept positions (int64) in visiting order."""
    _, order = scores.sort(descending=True)
    keep = []
    while len(order):
        i, order = order[0], order[1:]
        keep.append(int(i))
        if len(order):
            order = order[~(box_iou(boxes[i], boxes[order]) > thr)]
    return torch.tensor(keep, dtype=torch.int64)


@dataclass
class Prediction:
    """Network-input-space results (RTMOHead.predict, rtmo_head.py:889-1014) and image-space
    ones (bottomup.py:168-185)."""
    pre_nms_index: torch.Tensor            # [M] int64, flattened cell index, level 0 first
    # Float tensors are in the model's dtype (float32, or float64 for the float64 reference).
    pre_nms_scores: torch.Tensor           # [M] descending
    nms_keep: torch.Tensor                 # [N] int64, positions in pre_nms
    boxes_input: torch.Tensor              # [N, 4] clamped, network-input pixels
    scores: torch.Tensor                   # [N] box scores
    keypoints_input: torch.Tensor          # [N, 17, 2] network-input pixels
    keypoint_scores: torch.Tensor          # [N, 17]
    boxes_image: np.ndarray                # [N, 4] float64, image pixels
    keypoints_image: np.ndarray            # [N, 17, 2] float64, image pixels
    taps: Dict[str, torch.Tensor] = field(default_factory=dict)


@torch.no_grad()
def predict(model: RTMO, img_bgr: np.ndarray, taps: Optional[Dict] = None,
            score_thr: float = SCORE_THR, nms_thr: float = NMS_THR,
            input_size: Optional[Tuple[int, int]] = None) -> Prediction:
    """img_bgr [h, w, 3] uint8 -> Prediction. Fills `taps` (if given) with every dump name.

    Runs in the dtype of the model's parameters (float32, or float64 after model.double()).
    input_size: network input (W, H), multiples of 32; default the variant's square size."""
    if taps is None:
        taps = {}
    dtype = model_dtype(model)
    in_w, in_h = network_input_size(model, input_size)
    np_dtype = np.float64 if dtype == torch.float64 else np.float32
    inp, lb = letterbox(img_bgr, in_w, in_h, np_dtype)
    cls_maps, box_maps, vis_maps, pose_maps = model(to_input_tensor(inp, dtype), taps)

    priors, strides = grid_priors([tuple(m.shape[2:]) for m in cls_maps], dtype=dtype)
    scores_all = flatten_levels(cls_maps)[:, 0].sigmoid()       # score = sigmoid(cls) only
    boxes_all = decode_boxes(flatten_levels(box_maps), priors, strides)
    vis_all = flatten_levels(vis_maps).sigmoid()
    pose_all = flatten_levels(pose_maps)

    # filter_scores_and_topk (mmpose/models/utils/misc.py:54-63): strict `>`, then the
    # same (unstable) descending torch sort of the passing scores; nms_pre 100000 never cuts.
    valid = torch.nonzero(scores_all > score_thr)[:, 0]
    pre_scores, order = scores_all[valid].sort(descending=True)
    pre_index = valid[order]
    taps['pre_nms.index'] = pre_index.clone()
    taps['pre_nms.scores'] = pre_scores.clone()

    boxes = boxes_all[pre_index]
    keep = nms(boxes, pre_scores, nms_thr) if len(pre_index) else torch.zeros(0, dtype=torch.int64)
    taps['nms.keep'] = keep.clone()
    kept = pre_index[keep]
    boxes = boxes[keep]
    scores = pre_scores[keep]
    kpt_scores = vis_all[kept]

    # DCC on the UNCLAMPED boxes: bbox_xyxy2cs with padding 1.25
    # (mmpose/structures/bbox/transforms.py:66-67; rtmo_head.py:990-993).
    bbox_cs = torch.cat([(boxes[:, :2] + boxes[:, 2:]) * 0.5,
                         (boxes[:, 2:] - boxes[:, :2]) * BBOX_PADDING], dim=1)
    if len(kept):
        keypoints = model.head.dcc(pose_all[kept], bbox_cs, priors[kept], taps)
    else:
        keypoints = torch.zeros(0, NUM_KEYPOINTS, 2, dtype=dtype)
        c = model.head.dcc.x_fc.in_features
        taps['dcc.kpt_feats'] = torch.zeros(0, NUM_KEYPOINTS, c, dtype=dtype)
        taps['dcc.gau'] = torch.zeros(0, NUM_KEYPOINTS, c, dtype=dtype)
        taps['dcc.x_logits'] = torch.zeros(0, NUM_KEYPOINTS, model.head.dcc.x_bins.numel(),
                                           dtype=dtype)
        taps['dcc.y_logits'] = torch.zeros(0, NUM_KEYPOINTS, model.head.dcc.y_bins.numel(),
                                           dtype=dtype)
    taps['keypoints.input'] = keypoints.clone()

    # Boxes clamped to the network input after the DCC (rtmo_head.py:1008-1010);
    # keypoints are not clamped.
    boxes = boxes.clone()
    boxes[:, 0::2].clamp_(0, lb.input_size[0])
    boxes[:, 1::2].clamp_(0, lb.input_size[1])

    kpts_img = to_image_space(keypoints.numpy(), lb)
    boxes_img = to_image_space(boxes.numpy().reshape(-1, 2, 2), lb).reshape(-1, 4)
    return Prediction(pre_index, pre_scores, keep, boxes, scores, keypoints, kpt_scores,
                      boxes_img, kpts_img, taps)


def to_image_space(p: np.ndarray, lb: Letterbox) -> np.ndarray:
    """[..., 2] float32 network-input pixels -> float64 image pixels, exactly as
    mmpose/models/pose_estimators/bottomup.py:173-184 evaluates it with NumPy promotion:
    p / input_size (int tuple -> float64) * scale (float32) + center (float32)
    - 0.5 * scale (computed in float32). With a float64 Letterbox and float64 p (the float64
    reference) every step is float64."""
    ftype = lb.scale.dtype.type
    half = (ftype(0.5) * lb.scale).astype(lb.scale.dtype)
    return p / np.array(lb.input_size) * lb.scale + lb.center - half


def model_dtype(model: RTMO) -> torch.dtype:
    """The floating dtype the model runs in (that of its parameters, which must all agree)."""
    dtypes = {p.dtype for p in model.parameters()}
    if len(dtypes) != 1 or not next(iter(dtypes)).is_floating_point:
        raise ValueError('model parameters: expected one floating dtype, got '
                         f'{sorted(map(str, dtypes))}')
    return next(iter(dtypes))


def network_input_size(model: RTMO, input_size: Optional[Tuple[int, int]]) -> Tuple[int, int]:
    """input_size (W, H) or None (the variant's square size) -> checked (W, H)."""
    if input_size is None:
        return model.variant.input_size, model.variant.input_size
    in_w, in_h = (int(v) for v in input_size)
    if in_w <= 0 or in_h <= 0 or in_w % 32 or in_h % 32:
        raise ValueError(f'network input size {in_w}x{in_h}: expected positive multiples of 32 '
                         '(the stride-32 level must tile it)')
    return in_w, in_h


def predictions_json(pred: Prediction, file: str, width: int, height: int) -> dict:
    """The predictions.json record: people in the official output order (NMS order). Values
    are Python floats, which json writes as repr (shortest string that round-trips to the
    same float64, at most 17 significant digits): float32 and float64 results survive exactly."""
    people = []
    for i in range(len(pred.scores)):
        kpts = [[float(pred.keypoints_image[i, k, 0]), float(pred.keypoints_image[i, k, 1]),
                 float(pred.keypoint_scores[i, k])] for k in range(NUM_KEYPOINTS)]
        people.append({'bbox': [float(v) for v in pred.boxes_image[i]],
                       'score': float(pred.scores[i]), 'keypoints': kpts})
    return {'file': file, 'width': int(width), 'height': int(height), 'people': people}
