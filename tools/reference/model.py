"""RTMO network in plain PyTorch: the reference that rtmo.cpp is checked against.

Written from the behaviour of the official code (mmpose v1.3.2, commit 5408bc76), without
mmcv/mmengine/mmpose. Module and parameter names reproduce the official state_dict exactly
(names, shapes, dtypes and order; see weights/layouts/keys_rtmo-*.txt), so an official
checkpoint loads with `load_state_dict(sd, strict=True)`. Training-only entries
(`head.head_module.out_kpt_reg`, `head.dcc.sigma_fc`, `head.loss_oks.sigmas`, BN
`num_batches_tracked`) exist so that strict loading works; inference never reads them.

Citations `file:line` are relative to the mmpose repository root at v1.3.2.

Tensor layout: NCHW float32, batch 1 in practice (every module also accepts N > 1).
Float64 reference: `model.double()` after loading widens every parameter and buffer (the
checkpoint's float32 dim_t and bins become their exact float64 values); every tensor the
forward creates (positions of the encoder's sine encoding) takes the dtype of the model's
own tensors, so a float64 input runs in float64 throughout.

Pass a dict as `taps` to `RTMO.forward` to collect the intermediate tensors by their dump
name (see dump_goldens.py for the list and meaning of each name).
"""

import math
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

# --- numeric constants of the official code ------------------------------------------------
# BN eps of backbone and head ConvModules: configs/body_2d_keypoint/rtmo/body7/
# rtmo-s_8xb32-600e_body7-640x640.py:436 (backbone) and :479 (head), norm_cfg eps=0.001.
BN_EPS_BACKBONE = 1e-3
BN_EPS_HEAD = 1e-3
# Neck BN: PyTorch default eps (mmpose/models/necks/hybrid_encoder.py:137 norm_cfg=dict(type='BN')),
# also the projector (config :465) and RepVGGBlock (mmpose/models/utils/reparam_layers.py:47).
BN_EPS_NECK = 1e-5
# DCC nn.BatchNorm1d default eps (mmpose/models/heads/hybrid_heads/rtmo_head.py:290).
BN_EPS_DCC = 1e-5
# nn.LayerNorm default eps (mmcv build_norm_layer 'LN'), transformer.py:871-874.
LN_EPS = 1e-5
# Encoder: 8 heads over 256 dims, FFN 1024 (config :453-458).
ENCODER_HEADS = 8
ENCODER_FFN = 1024
NECK_HIDDEN = 256
# 2-D sine PE temperature of the encoder (hybrid_encoder.py:132 pe_temperature=10000).
ENCODER_PE_TEMPERATURE = 10000.0
# DCC sine encoding temperature (rtmo_head.py:245 spe_temperature=300.0).
DCC_SPE_TEMPERATURE = 300.0
DCC_FEAT = 128          # config dcc_cfg feat_channels=128, spe_channels=128, gau s=128
NUM_BINS_X = 192        # config dcc_cfg num_bins=(192, 256) = (x, y)
NUM_BINS_Y = 256
GAU_EXPANSION = 2       # gau_cfg expansion_factor=2 -> e = 256
SCALENORM_EPS = 1e-5    # transformer.py:650 GAUEncoder eps=1e-5 (a clamp, l.420)
SOFTMAX_CLAMP = 5e4     # rtmo_head.py:321-322
SOFTMAX_EPS = 1e-8      # rtmo_head.py:22 EPS, used at l.327-328
NUM_KEYPOINTS = 17
HEAD_STRIDES = (16, 32)  # config featmap_strides=(16, 32)
POSE_GROUPS = 8          # rtmo_head.py:68 num_groups=8
# COCO keypoint sigmas (the OKS loss buffer head.loss_oks.sigmas; training only).
COCO_SIGMAS = [0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062,
               0.107, 0.107, 0.087, 0.087, 0.089, 0.089]


@dataclass(frozen=True)
class Variant:
    name: str
    input_size: int          # square network input (w = h)
    widen: float
    deepen: float
    projector_out: int       # = pose_vec channels = DCC in_channels

    # CSPDarknet P5 arch (mmpose/models/backbones/csp_darknet.py:171-173):
    # (in, out, blocks, add_identity, use_spp) before widen/deepen.
    @property
    def stem_channels(self) -> int:
        return int(64 * self.widen)  # csp_darknet.py:218

    def stage(self, i: int) -> Tuple[int, int, int, bool, bool]:
        cin, cout, n, add_identity, spp = [(64, 128, 3, True, False), (128, 256, 9, True, False),
                                           (256, 512, 9, True, False),
                                           (512, 1024, 3, False, True)][i]
        # csp_darknet.py:227-229: int() truncation for channels, max(round(), 1) for depth.
        return (int(cin * self.widen), int(cout * self.widen), max(round(n * self.deepen), 1),
                add_identity, spp)

    @property
    def rep_hidden(self) -> int:
        return int(NECK_HIDDEN * self.widen)  # hybrid_encoder.py:43

    @property
    def rep_blocks(self) -> int:
        return round(3 * self.deepen)  # hybrid_encoder.py:190

    @property
    def head_in(self) -> int:
        return int(256 * self.widen)  # rtmo_head.py:90 (config in_channels=256)

    @property
    def cls_channels(self) -> int:
        return int(256 * self.widen)  # rtmo_head.py:80 (config cls_feat_channels=256)

    @property
    def pose_channels(self) -> int:
        return POSE_GROUPS * int(self.widen * 36)  # rtmo_head.py:94,133 (channels_per_group=36)


VARIANTS = {
    # configs/body_2d_keypoint/rtmo/body7/rtmo-{t,s,m,l}_*.py: input_size, widen_factor,
    # deepen_factor, projector out_channels (= pose_vec_channels = dcc in_channels).
    't': Variant('t', 416, 0.375, 0.33, 192),
    's': Variant('s', 640, 0.5, 0.33, 256),
    'm': Variant('m', 640, 0.75, 0.67, 384),
    'l': Variant('l', 640, 1.0, 1.0, 512),
}


def swish(x: torch.Tensor) -> torch.Tensor:
    """mmcv Swish (mmcv/cnn/bricks/swish.py:23-24): x * sigmoid(x), evaluated in that order.

    Mathematically equal to SiLU; kept separate because the official backbone/head use this
    form and the neck uses nn.SiLU (F.silu), which rounds differently in float32."""
    return x * torch.sigmoid(x)


# --- building blocks -------------------------------------------------------------------------

class ConvModule(nn.Module):
    """mmcv ConvModule as configured by RTMO: conv (no bias) -> BN -> activation.

    act: 'swish' (backbone, head), 'silu' (neck) or None. x: [N,Cin,H,W] -> [N,Cout,H',W']."""

    def __init__(self, cin, cout, k, stride=1, groups=1, eps=1e-5, act: Optional[str] = None):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, padding=(k - 1) // 2, groups=groups,
                              bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=eps, momentum=0.03)
        self.act = act

    def forward(self, x):
        x = self.bn(self.conv(x))
        if self.act == 'swish':
            return swish(x)
        if self.act == 'silu':
            return F.silu(x)
        return x


class Focus(nn.Module):
    """Space-to-depth then 3x3 conv (csp_darknet.py:14-64). x: [N,3,H,W] -> [N,C,H/2,W/2].

    Concat order (l.55-63): top-left, BOTTOM-left, top-right, bottom-right, i.e.
    (even row, even col), (odd row, even col), (even row, odd col), (odd row, odd col)."""

    def __init__(self, cout):
        super().__init__()
        self.conv = ConvModule(12, cout, 3, 1, eps=BN_EPS_BACKBONE, act='swish')

    def forward(self, x):
        x = torch.cat([x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2], x[..., 1::2, 1::2]],
                      dim=1)
        return self.conv(x)


class SPPBottleneck(nn.Module):
    """csp_darknet.py:67-122: conv1 1x1 C->C/2, concat [x, maxpool5, maxpool9, maxpool13]
    (stride 1, padding k//2; PyTorch max-pool pads with -inf), conv2 1x1 2C->C."""

    KERNELS = (5, 9, 13)

    def __init__(self, c):
        super().__init__()
        mid = c // 2
        self.conv1 = ConvModule(c, mid, 1, eps=BN_EPS_BACKBONE, act='swish')
        self.conv2 = ConvModule(mid * 4, c, 1, eps=BN_EPS_BACKBONE, act='swish')

    def forward(self, x):
        x = self.conv1(x)
        pools = [F.max_pool2d(x, k, stride=1, padding=k // 2) for k in self.KERNELS]
        return self.conv2(torch.cat([x] + pools, dim=1))


class DarknetBottleneck(nn.Module):
    """mmpose/models/utils/csp_layer.py:39-106 with expansion 1.0 (CSPLayer passes the
    positional 1.0, l.252): conv1 1x1, conv2 3x3, + identity if add_identity."""

    def __init__(self, c, add_identity):
        super().__init__()
        self.conv1 = ConvModule(c, c, 1, eps=BN_EPS_BACKBONE, act='swish')
        self.conv2 = ConvModule(c, c, 3, eps=BN_EPS_BACKBONE, act='swish')
        self.add_identity = add_identity

    def forward(self, x):
        out = self.conv2(self.conv1(x))
        return out + x if self.add_identity else out


class CSPLayer(nn.Module):
    """csp_layer.py:180-273: final_conv(cat[blocks(main_conv(x)), short_conv(x)]).
    Registration order main, short, final, blocks is the state_dict order."""

    def __init__(self, cin, cout, num_blocks, add_identity):
        super().__init__()
        mid = int(cout * 0.5)
        self.main_conv = ConvModule(cin, mid, 1, eps=BN_EPS_BACKBONE, act='swish')
        self.short_conv = ConvModule(cin, mid, 1, eps=BN_EPS_BACKBONE, act='swish')
        self.final_conv = ConvModule(2 * mid, cout, 1, eps=BN_EPS_BACKBONE, act='swish')
        self.blocks = nn.Sequential(*[DarknetBottleneck(mid, add_identity)
                                      for _ in range(num_blocks)])

    def forward(self, x):
        x_short = self.short_conv(x)
        x_main = self.blocks(self.main_conv(x))
        return self.final_conv(torch.cat((x_main, x_short), dim=1))  # l.269: (main, short)


class CSPDarknet(nn.Module):
    """Backbone. x: [N,3,H,W] -> (stage2 [N,C2,H/8,W/8], stage3 [/16], stage4 [/32])."""

    def __init__(self, v: Variant):
        super().__init__()
        self.stem = Focus(v.stem_channels)
        for i in range(4):
            cin, cout, n, add_identity, spp = v.stage(i)
            layers = [ConvModule(cin, cout, 3, 2, eps=BN_EPS_BACKBONE, act='swish')]
            if spp:
                layers.append(SPPBottleneck(cout))
            layers.append(CSPLayer(cout, cout, n, add_identity))
            self.add_module(f'stage{i + 1}', nn.Sequential(*layers))

    def forward(self, x, taps=None):
        x = self.stem(x)
        _tap(taps, 'backbone.stem', x)
        outs = []
        for i in range(1, 5):
            x = getattr(self, f'stage{i}')(x)
            _tap(taps, f'backbone.stage{i}', x)
            if i >= 2:  # out_indices=(2, 3, 4), csp_darknet.py:279-286
                outs.append(x)
        return outs


class RepVGGBlock(nn.Module):
    """reparam_layers.py:15-113 with without_branch_norm=True: SiLU(BN(conv3x3 x) + BN(conv1x1 x))."""

    def __init__(self, c):
        super().__init__()
        self.branch_3x3 = ConvModule(c, c, 3, eps=BN_EPS_NECK, act=None)
        self.branch_1x1 = ConvModule(c, c, 1, eps=BN_EPS_NECK, act=None)

    def forward(self, x):
        return F.silu(self.branch_3x3(x) + self.branch_1x1(x))


class CSPRepLayer(nn.Module):
    """hybrid_encoder.py:17-83: conv3(bottlenecks(conv1 x) + conv2 x), a SUM. conv3 is an
    Identity (no weights) when hidden == out (rtmo-l)."""

    def __init__(self, cin, cout, num_blocks, hidden):
        super().__init__()
        self.conv1 = ConvModule(cin, hidden, 1, eps=BN_EPS_NECK, act='silu')
        self.conv2 = ConvModule(cin, hidden, 1, eps=BN_EPS_NECK, act='silu')
        self.bottlenecks = nn.Sequential(*[RepVGGBlock(hidden) for _ in range(num_blocks)])
        self.conv3 = (ConvModule(hidden, cout, 1, eps=BN_EPS_NECK, act='silu')
                      if hidden != cout else nn.Identity())

    def forward(self, x):
        return self.conv3(self.bottlenecks(self.conv1(x)) + self.conv2(x))


class SinePositionalEncoding(nn.Module):
    """transformer.py:423-537. Holds the buffer dim_t = temperature ** (arange(C/2)/(C/2))
    (float32, l.463-465), which is part of the state_dict."""

    def __init__(self, channels, temperature):
        super().__init__()
        pos_dim = channels // 2
        self.register_buffer('dim_t', temperature ** (torch.arange(pos_dim, dtype=torch.float32)
                                                      / pos_dim))

    def encode_1d(self, position: torch.Tensor) -> torch.Tensor:
        """position: [...] -> [..., C]: cat(cos(p/dim_t), sin(p/dim_t)), cos FIRST (l.508-510)."""
        freq = position.unsqueeze(-1) / self.dim_t.reshape(*((1,) * position.ndim), -1)
        return torch.cat((freq.cos(), freq.sin()), dim=-1)

    def encode_2d_tokens(self, h: int, w: int) -> torch.Tensor:
        """-> [1, h*w, 2C]: per token (y*w + x), [cos(y/dim_t), sin(y/dim_t), cos(x/dim_t),
        sin(x/dim_t)]; raw integer positions, no normalisation. transformer.py:520-535 stacks
        (pe_h, pe_w) on a last axis; hybrid_encoder.py:242-243 transposes and flattens it."""
        # Positions in the buffer's dtype: float32 as the official code, float64 after
        # model.double() (the float64 reference: nothing rounded to float32 on the way).
        dtype = self.dim_t.dtype
        gy, gx = torch.meshgrid(torch.arange(h, dtype=dtype),
                                torch.arange(w, dtype=dtype), indexing='ij')
        pe_h = self.encode_1d(gy.flatten())
        pe_w = self.encode_1d(gx.flatten())
        pe = torch.stack((pe_h, pe_w), dim=-1)  # [h*w, C, 2]
        return pe.transpose(-1, -2).reshape(1, h * w, -1)


class SelfAttention(nn.Module):
    """mmcv MultiheadAttention wrapping nn.MultiheadAttention (`.attn`; packed in_proj [3E,E]).

    Forward written out (same op order as torch 1.13 F.multi_head_attention_forward with
    need_weights=True, which mmcv uses): q = (x+pe) Wq + bq, k = (x+pe) Wk + bk, v = x Wv + bv
    (PE on q and k only; mmcv sets identity = query before adding query_pos),
    softmax((q / sqrt(d)) k^T) v, out_proj, + x."""

    def __init__(self, dim, heads):
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads)
        self.heads = heads
        self.head_dim = dim // heads

    def forward(self, x, pe):  # x, pe: [N, L, E] -> [N, L, E]
        n, length, e = x.shape
        d = self.head_dim
        w_q, w_k, w_v = self.attn.in_proj_weight.chunk(3)
        b_q, b_k, b_v = self.attn.in_proj_bias.chunk(3)
        qk_in = x + pe
        q = F.linear(qk_in, w_q, b_q)
        k = F.linear(qk_in, w_k, b_k)
        v = F.linear(x, w_v, b_v)

        def split_heads(t):  # [N, L, E] -> [N*heads, L, d]
            return t.transpose(0, 1).reshape(length, n * self.heads, d).transpose(0, 1)

        q, k, v = split_heads(q), split_heads(k), split_heads(v)
        weights = torch.softmax(torch.bmm(q / math.sqrt(d), k.transpose(-2, -1)), dim=-1)
        out = torch.bmm(weights, v)  # [N*heads, L, d]
        out = out.transpose(0, 1).reshape(length * n, e)
        out = F.linear(out, self.attn.out_proj.weight, self.attn.out_proj.bias)
        out = out.view(length, n, e).transpose(0, 1)
        return x + out


class FFN(nn.Module):
    """mmcv FFN: Linear(E,F) -> GELU (exact erf) -> Linear(F,E), + identity.
    Names layers.0.0 and layers.1 as in the official state_dict."""

    def __init__(self, dim, hidden):
        super().__init__()
        self.layers = nn.ModuleList([nn.Sequential(nn.Linear(dim, hidden)),
                                     nn.Linear(hidden, dim)])

    def forward(self, x):
        return x + self.layers[1](F.gelu(self.layers[0][0](x)))


class EncoderLayer(nn.Module):
    """DetrTransformerEncoderLayer (transformer.py:826-902), post-norm:
    y = LN0(x + MHA(x, pe)); out = LN1(y + FFN(y))."""

    def __init__(self, dim=NECK_HIDDEN):
        super().__init__()
        self.self_attn = SelfAttention(dim, ENCODER_HEADS)
        self.ffn = FFN(dim, ENCODER_FFN)
        self.norms = nn.ModuleList([nn.LayerNorm(dim, eps=LN_EPS) for _ in range(2)])

    def forward(self, x, pe):
        x = self.norms[0](self.self_attn(x, pe))
        return self.norms[1](self.ffn(x))


class Encoder(nn.Module):
    def __init__(self, num_layers=1):  # config num_encoder_layers default 1
        super().__init__()
        self.layers = nn.ModuleList([EncoderLayer() for _ in range(num_layers)])

    def forward(self, x, pe):
        for layer in self.layers:
            x = layer(x, pe)
        return x


class ChannelMapper(nn.Module):
    """mmpose/models/necks/channel_mapper.py with kernel_size=1, BN (eps 1e-5), act None."""

    def __init__(self, cin, cout, n):
        super().__init__()
        self.convs = nn.ModuleList([ConvModule(cin, cout, 1, eps=BN_EPS_NECK, act=None)
                                    for _ in range(n)])

    def forward(self, xs):
        return [conv(x) for conv, x in zip(self.convs, xs)]


class HybridEncoder(nn.Module):
    """Neck (hybrid_encoder.py:86-281). (C3 /8, C4 /16, C5 /32) -> (out /16, out /32)."""

    def __init__(self, v: Variant):
        super().__init__()
        in_channels = [v.stage(i)[1] for i in (1, 2, 3)]
        hd = NECK_HIDDEN
        self.input_proj = nn.ModuleList([ConvModule(c, hd, 1, eps=BN_EPS_NECK, act=None)
                                         for c in in_channels])
        self.encoder = nn.ModuleList([Encoder()])  # use_encoder_idx=[2]
        self.sincos_pos_enc = SinePositionalEncoding(hd // 2, ENCODER_PE_TEMPERATURE)
        self.lateral_convs = nn.ModuleList([ConvModule(hd, hd, 1, eps=BN_EPS_NECK, act='silu')
                                            for _ in range(2)])
        self.fpn_blocks = nn.ModuleList([CSPRepLayer(2 * hd, hd, v.rep_blocks, v.rep_hidden)
                                         for _ in range(2)])
        self.downsample_convs = nn.ModuleList([ConvModule(hd, hd, 3, 2, eps=BN_EPS_NECK,
                                                          act='silu') for _ in range(2)])
        self.pan_blocks = nn.ModuleList([CSPRepLayer(2 * hd, hd, v.rep_blocks, v.rep_hidden)
                                         for _ in range(2)])
        self.projector = ChannelMapper(hd, v.projector_out, 2)

    def forward(self, feats, taps=None):
        proj = [self.input_proj[i](f) for i, f in enumerate(feats)]
        for i in range(3):
            _tap(taps, f'neck.input_proj.{i}', proj[i])

        # Transformer encoder on the stride-32 level (l.232-248); tokens are y*w + x.
        n, c, h, w = proj[2].shape
        tokens = proj[2].flatten(2).permute(0, 2, 1)
        pe = self.sincos_pos_enc.encode_2d_tokens(h, w)
        memory = self.encoder[0](tokens, pe)
        proj[2] = memory.permute(0, 2, 1).reshape(n, c, h, w)
        _tap(taps, 'neck.encoder.0', proj[2])

        # Top-down FPN (l.250-263): the lateral conv output REPLACES inner[0].
        high = self.lateral_convs[0](proj[2])                       # /32, kept for the PAN
        fpn16 = self.fpn_blocks[0](torch.cat([F.interpolate(high, scale_factor=2.0,
                                                            mode='nearest'), proj[1]], 1))
        _tap(taps, 'neck.fpn_blocks.0', fpn16)
        mid = self.lateral_convs[1](fpn16)                          # /16, kept for the PAN
        fpn8 = self.fpn_blocks[1](torch.cat([F.interpolate(mid, scale_factor=2.0,
                                                           mode='nearest'), proj[0]], 1))
        _tap(taps, 'neck.fpn_blocks.1', fpn8)

        # Bottom-up PAN (l.265-273): cat[downsampled, lateral output].
        pan16 = self.pan_blocks[0](torch.cat([self.downsample_convs[0](fpn8), mid], 1))
        _tap(taps, 'neck.pan_blocks.0', pan16)
        pan32 = self.pan_blocks[1](torch.cat([self.downsample_convs[1](pan16), high], 1))
        _tap(taps, 'neck.pan_blocks.1', pan32)

        outs = self.projector([pan16, pan32])  # output_indices=[1, 2]
        for i, o in enumerate(outs):
            _tap(taps, f'neck.out.{i}', o)
        return outs


class RTMOHeadModule(nn.Module):
    """rtmo_head.py:25-219. Per level (separate weights): input split in halves, first half ->
    cls branch (2 x conv3x3), second half -> pose branch (conv3x3, then 3 x grouped conv3x3);
    1x1 output convs with bias."""

    def __init__(self, v: Variant):
        super().__init__()
        cin, ccls, cpose = v.head_in, v.cls_channels, v.pose_channels

        def cls_stack():
            return nn.Sequential(ConvModule(cin, ccls, 3, eps=BN_EPS_HEAD, act='swish'),
                                 ConvModule(ccls, ccls, 3, eps=BN_EPS_HEAD, act='swish'))

        def pose_stack():
            return nn.Sequential(
                ConvModule(cin, cpose, 3, eps=BN_EPS_HEAD, act='swish'),
                *[ConvModule(cpose, cpose, 3, groups=POSE_GROUPS, eps=BN_EPS_HEAD, act='swish')
                  for _ in range(3)])

        levels = range(len(HEAD_STRIDES))
        self.conv_cls = nn.ModuleList([cls_stack() for _ in levels])
        self.out_cls = nn.ModuleList([nn.Conv2d(ccls, 1, 1) for _ in levels])
        self.conv_pose = nn.ModuleList([pose_stack() for _ in levels])
        self.out_bbox = nn.ModuleList([nn.Conv2d(cpose, 4, 1) for _ in levels])
        self.out_kpt_reg = nn.ModuleList([nn.Conv2d(cpose, 2 * NUM_KEYPOINTS, 1)
                                          for _ in levels])  # training only
        self.out_kpt_vis = nn.ModuleList([nn.Conv2d(cpose, NUM_KEYPOINTS, 1) for _ in levels])
        self.out_pose = nn.ModuleList([nn.Conv2d(cpose, v.projector_out, 1) for _ in levels])

    def forward(self, feats, taps=None):
        cls_scores, bbox_preds, kpt_vis, pose_feats = [], [], [], []
        for i, x in enumerate(feats):
            cls_feat, reg_feat = x.split(x.size(1) // 2, 1)
            cls_feat = self.conv_cls[i](cls_feat)
            reg_feat = self.conv_pose[i](reg_feat)
            cls_scores.append(self.out_cls[i](cls_feat))
            bbox_preds.append(self.out_bbox[i](reg_feat))
            kpt_vis.append(self.out_kpt_vis[i](reg_feat))
            pose_feats.append(self.out_pose[i](reg_feat))
            _tap(taps, f'head.cls_score.{i}', cls_scores[-1])
            _tap(taps, f'head.bbox_pred.{i}', bbox_preds[-1])
            _tap(taps, f'head.kpt_vis.{i}', kpt_vis[-1])
            _tap(taps, f'head.pose_feat.{i}', pose_feats[-1])
        return cls_scores, bbox_preds, kpt_vis, pose_feats


class ScaleNorm(nn.Module):
    """transformer.py:384-420: x / clamp(||x||_2 * dim^-0.5, min=eps) * g (g is a scalar)."""

    def __init__(self, dim, eps=SCALENORM_EPS):
        super().__init__()
        self.scale = dim ** -0.5
        self.eps = eps
        self.g = nn.Parameter(torch.ones(1))

    def forward(self, x):
        norm = torch.norm(x, dim=-1, keepdim=True) * self.scale
        return x / norm.clamp(min=self.eps) * self.g


class ChannelWiseScale(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * self.scale


class GAUEncoder(nn.Module):
    """Gated attention unit (transformer.py:614-758) with s=128, e=256, SiLU, no bias,
    pos_enc='add'. x: [N, K, 128] -> [N, K, 128]:
      xn = ScaleNorm(x); u, v, base = split(SiLU(xn W_uv^T), [e, e, s])
      q = base*gamma0 + beta0 + pos_enc; k = base*gamma1 + beta1 + pos_enc   (l.714-730)
      kernel = relu(q k^T / sqrt(s))^2   (no softmax)                          (l.734-737)
      out = o(u * (kernel v)); y = res_scale * x + out                         (l.746-758)"""

    def __init__(self, dim=DCC_FEAT, s=DCC_FEAT):
        super().__init__()
        self.s = s
        self.e = dim * GAU_EXPANSION
        self.gamma = nn.Parameter(torch.rand(2, s))
        self.beta = nn.Parameter(torch.rand(2, s))
        self.o = nn.Linear(self.e, dim, bias=False)
        self.uv = nn.Linear(dim, 2 * self.e + s, bias=False)
        self.ln = ScaleNorm(dim)
        self.res_scale = ChannelWiseScale(dim)
        self.sqrt_s = math.sqrt(s)

    def forward(self, x, pos_enc):
        xn = self.ln(x)
        uv = F.silu(self.uv(xn))
        u, v, base = torch.split(uv, [self.e, self.e, self.s], dim=-1)
        qk = base.unsqueeze(-2) * self.gamma + self.beta  # [N, K, 2, s]
        q, k = torch.unbind(qk, dim=-2)
        q = q + pos_enc
        k = k + pos_enc
        kernel = torch.square(F.relu(torch.matmul(q, k.transpose(-1, -2)) / self.sqrt_s))
        out = self.o(u * torch.matmul(kernel, v))
        return self.res_scale(x) + out


class Scale(nn.Module):
    """mmcv Scale: a learnable scalar (state_dict entry `scale`, shape [])."""

    def __init__(self, value=1.0):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(value, dtype=torch.float32))

    def forward(self, x):
        return x * self.scale


class DCC(nn.Module):
    """Dynamic coordinate classifier (rtmo_head.py:222-658), plain (non-deploy) form."""

    def __init__(self, in_channels):
        super().__init__()
        # Own parameter, then own buffers, then children: the official state_dict order.
        self.pos_enc = nn.Parameter(torch.randn(NUM_KEYPOINTS, DCC_FEAT))
        # Bins (l.303-308): linspace(-0.5, 0.5) with endpoints, y registered first.
        self.register_buffer('y_bins', torch.linspace(-0.5, 0.5, NUM_BINS_Y))
        self.register_buffer('x_bins', torch.linspace(-0.5, 0.5, NUM_BINS_X))
        self.spe = SinePositionalEncoding(DCC_FEAT, DCC_SPE_TEMPERATURE)
        self.gau = GAUEncoder()
        self.pose_to_kpts = nn.Sequential(nn.Linear(in_channels, DCC_FEAT * NUM_KEYPOINTS),
                                          nn.BatchNorm1d(DCC_FEAT * NUM_KEYPOINTS,
                                                         eps=BN_EPS_DCC))
        self.x_fc = nn.Linear(DCC_FEAT, DCC_FEAT)
        self.y_fc = nn.Linear(DCC_FEAT, DCC_FEAT)
        self.sigma_fc = nn.Sequential(nn.Linear(in_channels, NUM_KEYPOINTS), nn.Sigmoid(),
                                      Scale(0.1))  # training only

    def forward(self, pose_vecs, bbox_cs, grids, taps=None):
        """pose_vecs [N, C], bbox_cs [N, 4] (cx, cy, w*1.25, h*1.25 of the UNCLAMPED box),
        grids [N, 2] (the cells' priors) -> keypoints [N, 17, 2] in network-input pixels."""
        center, scale = bbox_cs.split(2, dim=-1)
        # Dynamic bins relative to the grid prior (l.350-359): [N, bins].
        rel_center = center - grids
        x_pos = self.x_bins.view(1, -1) * scale[..., 0:1] + rel_center[..., 0:1]
        y_pos = self.y_bins.view(1, -1) * scale[..., 1:2] + rel_center[..., 1:2]
        x_enc = self.x_fc(self.spe.encode_1d(x_pos))  # [N, 192, 128]
        y_enc = self.y_fc(self.spe.encode_1d(y_pos))  # [N, 256, 128]

        kpt_feats = self.pose_to_kpts(pose_vecs)       # Linear + BatchNorm1d, [N, 17*128]
        kpt_feats = kpt_feats.reshape(*kpt_feats.shape[:-1], NUM_KEYPOINTS, DCC_FEAT)
        _tap(taps, 'dcc.kpt_feats', kpt_feats)         # keypoint-major: feature k*128 + c
        kpt_feats = self.gau(kpt_feats, self.pos_enc)
        _tap(taps, 'dcc.gau', kpt_feats)

        x_hms = torch.matmul(kpt_feats, x_enc.transpose(-1, -2).contiguous())  # [N, 17, 192]
        y_hms = torch.matmul(kpt_feats, y_enc.transpose(-1, -2).contiguous())  # [N, 17, 256]
        _tap(taps, 'dcc.x_logits', x_hms)
        _tap(taps, 'dcc.y_logits', y_hms)
        prob_x, prob_y = dcc_softmax(x_hms), dcc_softmax(y_hms)

        # Integral decode over ABSOLUTE bin positions (l.401-429).
        x_abs = self.x_bins.view(1, -1) * scale[..., 0:1] + center[..., 0:1]
        y_abs = self.y_bins.view(1, -1) * scale[..., 1:2] + center[..., 1:2]
        x = (prob_x * x_abs.unsqueeze(1)).sum(dim=-1)
        y = (prob_y * y_abs.unsqueeze(1)).sum(dim=-1)
        return torch.stack((x, y), dim=-1)


class DCCDeploy:
    """The DCC as mmpose's switch_to_deploy rewrites it (rtmo_head.py:518-658), for checking
    that folded weights (what a fast implementation wants) give the plain form's results:
      * pose_to_kpts BatchNorm1d folded into the Linear (l.529-548):
        W' = W * (gamma / sqrt(var + eps)), b' = beta + (b - mean) * gamma / sqrt(var + eps);
      * GAU pos_enc folded into beta (l.558-597): q = base*gamma0 + (beta0 + pos_enc), same
        for k; ScaleNorm via torch.linalg.norm (l.577);
      * decode relative to the grid prior: x = sum p_i (bin_i*w + cx - gx) + gx (l.622-650).
    Holds copies of the folded tensors; forward(...) -> (keypoints, intermediates)."""

    def __init__(self, dcc: DCC):
        with torch.no_grad():
            fc, bn = dcc.pose_to_kpts
            std = (bn.running_var + bn.eps).sqrt()
            self.fc_weight = fc.weight * (bn.weight / std).unsqueeze(1)
            self.fc_bias = bn.bias + (fc.bias - bn.running_mean) * bn.weight / std
            gau = dcc.gau
            pos = dcc.pos_enc.reshape(1, 1, *dcc.pos_enc.shape)
            self.gamma_q = gau.gamma[0].view(1, 1, 1, -1).clone()
            self.gamma_k = gau.gamma[1].view(1, 1, 1, -1).clone()
            self.beta_q = gau.beta[0].view(1, 1, 1, -1) + pos
            self.beta_k = gau.beta[1].view(1, 1, 1, -1) + pos
        self.dcc = dcc

    @torch.no_grad()
    def forward(self, pose_vecs, bbox_cs, grids):
        """pose_vecs [N, C], bbox_cs [N, 4], grids [N, 2] -> (keypoints [N,17,2], dict)."""
        dcc, gau = self.dcc, self.dcc.gau
        inter = {}
        # Batch dimension 1 in front, as the deploy graph runs it (l.616-656).
        kpt = F.linear(pose_vecs[None], self.fc_weight, self.fc_bias)
        kpt = kpt.reshape(*kpt.shape[:-1], NUM_KEYPOINTS, DCC_FEAT)      # [1, N, 17, 128]
        inter['kpt_feats'] = kpt[0]
        xn = kpt / (torch.linalg.norm(kpt, dim=-1, keepdim=True) * gau.ln.scale).clamp(
            min=gau.ln.eps) * gau.ln.g
        uv = F.silu(gau.uv(xn))
        u, v, base = torch.split(uv, [gau.e, gau.e, gau.s], dim=-1)
        q = base * self.gamma_q + self.beta_q
        k = base * self.gamma_k + self.beta_k
        kernel = torch.square(F.relu(torch.matmul(q, k.transpose(-1, -2)) / gau.sqrt_s))
        kpt = gau.res_scale(kpt) + gau.o(u * torch.matmul(kernel, v))
        inter['gau'] = kpt[0]

        center, scale = bbox_cs[None].split(2, dim=-1)
        center = center - grids[None]
        x_bins = dcc.x_bins.view(1, 1, -1) * scale[..., 0:1] + center[..., 0:1]
        y_bins = dcc.y_bins.view(1, 1, -1) * scale[..., 1:2] + center[..., 1:2]
        dim_t = dcc.spe.dim_t.view(1, 1, 1, -1)
        freq_x = x_bins.unsqueeze(-1) / dim_t
        freq_y = y_bins.unsqueeze(-1) / dim_t
        x_enc = dcc.x_fc(torch.cat((freq_x.cos(), freq_x.sin()), -1)).transpose(-1, -2).contiguous()
        y_enc = dcc.y_fc(torch.cat((freq_y.cos(), freq_y.sin()), -1)).transpose(-1, -2).contiguous()
        x_hms = torch.matmul(kpt, x_enc)
        y_hms = torch.matmul(kpt, y_enc)
        inter['x_logits'], inter['y_logits'] = x_hms[0], y_hms[0]
        px, py = dcc_softmax(x_hms), dcc_softmax(y_hms)
        x = (px * x_bins.unsqueeze(-2)).sum(dim=-1) + grids[None][..., 0:1]
        y = (py * y_bins.unsqueeze(-2)).sum(dim=-1) + grids[None][..., 1:2]
        return torch.stack((x, y), dim=-1)[0], inter


def dcc_softmax(logits: torch.Tensor) -> torch.Tensor:
    """rtmo_head.py:310-330: clamp to +-5e4, subtract the max, exp, / (sum + 1e-8)."""
    logits = logits.clamp(min=-SOFTMAX_CLAMP, max=SOFTMAX_CLAMP)
    e = (logits - logits.max(dim=-1, keepdim=True).values).exp()
    return e / (e.sum(dim=-1, keepdim=True) + SOFTMAX_EPS)


class OKSLossBuffers(nn.Module):
    """Only the OKS loss's buffer `sigmas` [17] (training only; in the official state_dict)."""

    def __init__(self):
        super().__init__()
        self.register_buffer('sigmas', torch.tensor(COCO_SIGMAS, dtype=torch.float32))


class RTMOHead(nn.Module):
    def __init__(self, v: Variant):
        super().__init__()
        self.loss_oks = OKSLossBuffers()
        self.head_module = RTMOHeadModule(v)
        self.dcc = DCC(v.projector_out)


class RTMO(nn.Module):
    """The whole network. forward(x [1,3,H,W] float32 BGR 0..255) -> raw head outputs, each a
    list over levels (stride 16, 32): cls [1,1,h,w], bbox [1,4,h,w], kpt_vis [1,17,h,w],
    pose_feat [1,C,h,w]. Post-processing and the DCC run in pipeline.predict()."""

    def __init__(self, variant: str):
        super().__init__()
        self.variant = VARIANTS[variant]
        self.backbone = CSPDarknet(self.variant)
        self.neck = HybridEncoder(self.variant)
        self.head = RTMOHead(self.variant)

    def forward(self, x, taps: Optional[Dict[str, torch.Tensor]] = None):
        _tap(taps, 'input', x)
        feats = self.backbone(x, taps)
        outs = self.neck(feats, taps)
        return self.head.head_module(outs, taps)


def _tap(taps: Optional[Dict[str, torch.Tensor]], name: str, t: torch.Tensor) -> None:
    if taps is not None:
        taps[name] = t.detach().clone()


def variant_from_state_dict(sd: Dict[str, torch.Tensor]) -> str:
    """Infers t/s/m/l from the stem width and stage-2 depth of an official state_dict."""
    stem = sd['backbone.stem.conv.conv.weight'].shape[0]
    for name, v in VARIANTS.items():
        if v.stem_channels == stem:
            return name
    raise ValueError(f'unknown RTMO variant: stem has {stem} output channels '
                     f'(expected one of {[v.stem_channels for v in VARIANTS.values()]})')


def load_checkpoint(path: str) -> Tuple['RTMO', Dict]:
    """Loads an official (or make_checkpoint.py) checkpoint: {'meta':..., 'state_dict':...}
    or a bare state_dict, legacy or zip format. Returns (model in eval mode, checkpoint)."""
    ckpt = torch.load(path, map_location='cpu')
    sd = ckpt['state_dict'] if isinstance(ckpt, dict) and 'state_dict' in ckpt else ckpt
    model = RTMO(variant_from_state_dict(sd))
    model.load_state_dict(sd, strict=True)
    model.eval()
    return model, ckpt
