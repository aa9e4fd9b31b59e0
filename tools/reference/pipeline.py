"""The official RTMO test-time pipeline around model.RTMO, in plain PyTorch/NumPy/OpenCV.

image (BGR uint8, as cv2.imread) -> BottomupResize letterbox -> network -> predict():
priors, box decode, sigmoid, strict `> 0.1` filter, descending sort, greedy NMS (IoU > 0.65),
DCC on the kept cells, box clamp, mapping back to image pixels.

Citations `file:line` are relative to the mmpose repository root at v1.3.2.
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
    input_size (W, H) ints, input_center and input_scale float32 [2], plus the warp matrix."""
    input_size: Tuple[int, int]
    center: np.ndarray   # float32 [2]
    scale: np.ndarray    # float32 [2]
    matrix: np.ndarray   # float64 [2, 3], image -> network input


def letterbox_params(img_w: int, img_h: int, in_w: int, in_h: int) -> Letterbox:
    """Closed-form BottomupResize 'fit' transform, use_udp=False.

    l.517-520: rsz_w = min(W, H*w/h), rsz_h = min(H, W*h/w) (floats, not rounded);
    l.576-581: center = (w/2, h/2) and scale = (w*W/rsz_w, h*H/rsz_h) as float32.
    get_warp_matrix (mmpose/structures/bbox/transforms.py:372-435) with rot 0 maps the box
    (center, scale) onto the output: a uniform scale s = min(W/w, H/h) and the image CENTRED:
    M = [[s, 0, W/2 - s*w/2], [0, s, H/2 - s*h/2]]. Using this M in cv2.warpAffine gives the
    official input bit for bit (tests/tools/test_reference.py checks it against a
    re-derivation of get_warp_matrix)."""
    ratio = img_w / img_h
    rsz_w = min(in_w, in_h * ratio)
    rsz_h = min(in_h, in_w / ratio)
    center = np.array([img_w / 2, img_h / 2], dtype=np.float32)
    scale = np.array([img_w * in_w / rsz_w, img_h * in_h / rsz_h], dtype=np.float32)
    s = min(in_w / img_w, in_h / img_h)
    matrix = np.array([[s, 0.0, in_w / 2 - s * img_w / 2],
                       [0.0, s, in_h / 2 - s * img_h / 2]], dtype=np.float64)
    return Letterbox((in_w, in_h), center, scale, matrix)


def letterbox(img_bgr: np.ndarray, in_w: int, in_h: int) -> Tuple[np.ndarray, Letterbox]:
    """img: [h, w, 3] uint8 BGR -> ([H, W, 3] uint8 BGR, Letterbox).

    cv2.warpAffine with INTER_LINEAR and a constant 114 border (l.588-593) -- not cv2.resize:
    OpenCV's fixed-point bilinear warp does no anti-aliasing when shrinking."""
    if img_bgr.dtype != np.uint8 or img_bgr.ndim != 3 or img_bgr.shape[2] != 3:
        raise ValueError(f'expected an [h, w, 3] uint8 BGR image, got {img_bgr.dtype} '
                         f'{img_bgr.shape}')
    h, w = img_bgr.shape[:2]
    lb = letterbox_params(w, h, in_w, in_h)
    out = cv2.warpAffine(img_bgr, lb.matrix, (in_w, in_h), flags=cv2.INTER_LINEAR,
                         borderValue=(PAD_VALUE, PAD_VALUE, PAD_VALUE))
    return out, lb


def to_input_tensor(img_bgr: np.ndarray) -> torch.Tensor:
    """[H, W, 3] uint8 -> [1, 3, H, W] float32 BGR in 0..255: PoseDataPreprocessor with
    mean 0, std 1, bgr_to_rgb False (config :418-423) does no normalisation or channel swap."""
    return torch.from_numpy(np.ascontiguousarray(img_bgr.transpose(2, 0, 1))).float()[None]


# --- post-processing --------------------------------------------------------------------------

def grid_priors(featmap_sizes: List[Tuple[int, int]],
                strides=HEAD_STRIDES) -> Tuple[torch.Tensor, torch.Tensor]:
    """-> (priors [A, 2] (x, y), strides [A]) over all levels, level 0 first, cells row-major.

    MlvlPointGenerator(centralize_points=True) (mmpose/models/task_modules/prior_generators/
    mlvl_point_generator.py:34 offset 0, l.133-147 `+ (stride - 1) / 2`):
    prior = (j*s + (s-1)/2, i*s + (s-1)/2), e.g. 7.5, 23.5, ... for s = 16."""
    priors, stride_list = [], []
    for (h, w), s in zip(featmap_sizes, strides):
        xs = (torch.arange(w) * s).float() + float(s - 1) / 2.0
        ys = (torch.arange(h) * s).float() + float(s - 1) / 2.0
        yy, xx = torch.meshgrid(ys, xs, indexing='ij')
        priors.append(torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=-1))
        stride_list.append(torch.full((h * w,), float(s)))
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
    union = torch.max(area1 + area2 - overlap, torch.tensor([IOU_EPS]))
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
    pre_nms_scores: torch.Tensor           # [M] float32, descending
    nms_keep: torch.Tensor                 # [N] int64, positions in pre_nms
    boxes_input: torch.Tensor              # [N, 4] float32, clamped, network-input pixels
    scores: torch.Tensor                   # [N] float32 box scores
    keypoints_input: torch.Tensor          # [N, 17, 2] float32, network-input pixels
    keypoint_scores: torch.Tensor          # [N, 17] float32
    boxes_image: np.ndarray                # [N, 4] float64, image pixels
    keypoints_image: np.ndarray            # [N, 17, 2] float64, image pixels
    taps: Dict[str, torch.Tensor] = field(default_factory=dict)


@torch.no_grad()
def predict(model: RTMO, img_bgr: np.ndarray, taps: Optional[Dict] = None,
            score_thr: float = SCORE_THR, nms_thr: float = NMS_THR) -> Prediction:
    """img_bgr [h, w, 3] uint8 -> Prediction. Fills `taps` (if given) with every dump name."""
    if taps is None:
        taps = {}
    size = model.variant.input_size
    inp, lb = letterbox(img_bgr, size, size)
    cls_maps, box_maps, vis_maps, pose_maps = model(to_input_tensor(inp), taps)

    priors, strides = grid_priors([tuple(m.shape[2:]) for m in cls_maps])
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
        keypoints = torch.zeros(0, NUM_KEYPOINTS, 2)
        c = model.head.dcc.x_fc.in_features
        taps['dcc.kpt_feats'] = torch.zeros(0, NUM_KEYPOINTS, c)
        taps['dcc.gau'] = torch.zeros(0, NUM_KEYPOINTS, c)
        taps['dcc.x_logits'] = torch.zeros(0, NUM_KEYPOINTS, model.head.dcc.x_bins.numel())
        taps['dcc.y_logits'] = torch.zeros(0, NUM_KEYPOINTS, model.head.dcc.y_bins.numel())
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
    - 0.5 * scale (computed in float32)."""
    half = (np.float32(0.5) * lb.scale).astype(np.float32)
    return p / np.array(lb.input_size) * lb.scale + lb.center - half


def predictions_json(pred: Prediction, file: str, width: int, height: int) -> dict:
    """The predictions.json record: people in the official output order (NMS order)."""
    people = []
    for i in range(len(pred.scores)):
        kpts = [[float(pred.keypoints_image[i, k, 0]), float(pred.keypoints_image[i, k, 1]),
                 float(pred.keypoint_scores[i, k])] for k in range(NUM_KEYPOINTS)]
        people.append({'bbox': [float(v) for v in pred.boxes_image[i]],
                       'score': float(pred.scores[i]), 'keypoints': kpts})
    return {'file': file, 'width': int(width), 'height': int(height), 'people': people}
