"""CoAtNet (Dai et al., "CoAtNet: Marrying Convolution and Attention for All Data Sizes",
NeurIPS 2021, arXiv:2106.04803).

CoAtNet stacks convolution stages first and attention stages last (the "C-C-T-T" layout was
best in the paper's study of generalisation vs capacity). Its two ingredients:

* **MBConv** (inverted residual with depthwise conv and squeeze-excitation, pre-norm):

      x <- S(x) + Proj(SE(DWConv_{3x3}(Expand(Norm(x)))))

  with ``Expand``/``Proj`` 1x1 convs (ratio 4), BN + GELU after expand and depthwise conv,
  and, where the stage downsamples, ``S(x) = Proj(Pool(x))`` and stride 2 on the depthwise conv
  (paper eq. 5 strides the first 1x1 conv; timm and the official MaxViT code stride the
  depthwise conv, which keeps all input pixels, and we follow them).
* **Relative attention** (paper eq. 3): self-attention over all ``H x W`` positions with a
  learned scalar per head for every 2-D offset ``i - j``, added before the softmax,

      y_i = sum_j softmax_j( x_i^T x_j / sqrt(d) + w_{i-j} ) x_j,

  ``w`` a table of ``(2H - 1)(2W - 1)`` entries per head, inside a pre-norm transformer block
  ``x <- S(x) + Attn(Pool(LN(x)))``, ``x <- x + MLP(LN(x))`` (MLP ratio 4, GELU).

Graft (``coat_resnet{depth}``): the CIFAR ResNet's three stages become C-C-T: stages 1-2 (16
and 32 channels, 32x32 and 16x16) hold MBConv blocks, stage 3 (64 channels) holds transformer
blocks attending over all 8x8 = 64 tokens with a 15x15 relative bias table per head. ``n`` blocks
per stage as in the ResNet; the first block of stages 2 and 3 downsamples as above. The 3x3 stem
and pooled linear head are the backbone's. Budget: MBConv ratio 4 with SE (ratio 0.25 of the
output width), MLP ratio 4, head size 32 (2 heads at 64 channels): ~0.20M parameters for
``coat_resnet20`` (resnet20: 0.28M); we keep the paper's ratios rather than widen.

Full-size (``coatnet_0``): timm's paper-style ``coatnet_0_224`` config (C-C-T-T, depths
2/3/5/2, widths 96/192/384/768, stem 64, head hidden 768; 24M parameters at 100 classes). Its
stem's first 3x3 conv has stride 2, which with the four stride-2 stages reduces 32x32 to 1x1 in the last
transformer stage. Changed for 32x32, by the kit's one rule for full-size models (output stride 8,
final map 4x4, :mod:`cifarlib.models.adaptation`): that stem conv's stride is set to 1 (padding
stays 1) and so is the first stage's (its first MBConv's depthwise conv, and its shortcut's 2x2
average pool is dropped; the shortcut's 1x1 projection stays). The stages then run at 32/16/8/4,
the ImageNet layout's 56/28/14/7 scaled by 4/7, and the attention stages see 8x8 and 4x4 grids;
their relative-position tables are rebuilt for those grids (each stage's ``set_input_size``) and
freshly initialised.
"""

from __future__ import annotations

import warnings

import timm
import torch
import torch.nn as nn
import torch.nn.functional as F

from .layers import LayerNorm2d, PointwiseMlp, check_drop_path_rate
from .registry import register_graft, register_model
from .resnet import BlockFactory, CifarResNet, scaled_widths

ATTN_STAGES: tuple[int, ...] = (0, 1, 2)


class SqueezeExcite(nn.Module):
    """SE gate ``x * sigmoid(W_2 SiLU(W_1 GAP(x)))`` with ``reduced`` hidden channels."""

    def __init__(self, channels: int, reduced: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, reduced, 1)
        self.act = nn.SiLU()
        self.fc2 = nn.Conv2d(reduced, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.fc2(self.act(self.fc1(x.mean((2, 3), keepdim=True))))
        return x * torch.sigmoid(w)


class PoolProject(nn.Module):
    """Shortcut ``Proj(Pool(x))``: 2x2 average pool when strided, 1x1 conv when widths differ."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(2) if stride == 2 else nn.Identity()
        self.expand = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.expand(self.pool(x))


def _shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    if stride not in (1, 2):
        raise ValueError(f"stride must be 1 or 2, got {stride!r}")
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    return PoolProject(in_channels, out_channels, stride)


class MBConv(nn.Module):
    """Pre-norm MBConv: ``S(x) + Proj(SE(GELU(BN(DW(GELU(BN(Expand(BN(x)))))))))``.

    Args:
        expansion: hidden width = ``expansion * out_channels`` (paper 4).
        se_ratio: SE hidden width = ``se_ratio * out_channels`` (0.25); ``0`` removes SE.

    Module names follow timm's ``MbConvBlock`` so its state_dict loads directly (tests).
    """

    def __init__(
        self, in_channels: int, out_channels: int, stride: int = 1, expansion: float = 4.0, se_ratio: float = 0.25
    ) -> None:
        super().__init__()
        hidden = round(expansion * out_channels)
        self.shortcut = _shortcut(in_channels, out_channels, stride)
        self.pre_norm = nn.BatchNorm2d(in_channels)
        self.conv1_1x1 = nn.Conv2d(in_channels, hidden, 1, bias=False)
        self.norm1 = nn.BatchNorm2d(hidden)
        self.conv2_kxk = nn.Conv2d(hidden, hidden, 3, stride=stride, padding=1, groups=hidden, bias=False)
        self.norm2 = nn.BatchNorm2d(hidden)
        self.act = nn.GELU()
        reduced = int(se_ratio * out_channels)
        self.se = SqueezeExcite(hidden, reduced) if reduced > 0 else nn.Identity()
        self.conv3_1x1 = nn.Conv2d(hidden, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act(self.norm1(self.conv1_1x1(self.pre_norm(x))))
        out = self.se(self.act(self.norm2(self.conv2_kxk(out))))
        return self.shortcut(x) + self.conv3_1x1(out)


class RelPosBias(nn.Module):
    """Learned 2-D relative position bias ``w_{i-j}`` (one scalar per head and offset).

    The table covers offsets of a ``grid x grid`` map, ``(2 grid - 1)^2`` rows; any smaller map
    reuses the central part of the table (same offsets), a larger one is an error.
    """

    def __init__(self, grid: tuple[int, int], heads: int) -> None:
        super().__init__()
        self.grid = grid
        self.table = nn.Parameter(torch.zeros((2 * grid[0] - 1) * (2 * grid[1] - 1), heads))
        nn.init.trunc_normal_(self.table, std=0.02)
        self.register_buffer("index", self._index(grid), persistent=False)

    def _index(self, size: tuple[int, int]) -> torch.Tensor:
        """Row of the table for every (query, key) pair of an ``h x w`` map, shape ``(N, N)``."""
        ys, xs = torch.meshgrid(torch.arange(size[0]), torch.arange(size[1]), indexing="ij")
        coords = torch.stack([ys.flatten(), xs.flatten()])  # 2 x N
        rel = coords[:, :, None] - coords[:, None, :]  # 2 x N x N, offset i - j
        return (rel[0] + self.grid[0] - 1) * (2 * self.grid[1] - 1) + rel[1] + self.grid[1] - 1

    def forward(self, size: tuple[int, int]) -> torch.Tensor:
        """The bias ``(heads, N, N)`` for an ``h x w`` token map."""
        if size[0] > self.grid[0] or size[1] > self.grid[1]:
            raise ValueError(
                f"relative position table built for a {self.grid[0]}x{self.grid[1]} map (32x32 images), "
                f"got a {size[0]}x{size[1]} map"
            )
        index = self.index if tuple(size) == tuple(self.grid) else self._index(size).to(self.table.device)
        return self.table[index].permute(2, 0, 1)


class RelAttention(nn.Module):
    """Multi-head self-attention over all positions of an NCHW map, relative bias optional."""

    def __init__(
        self, in_channels: int, out_channels: int, head_dim: int, grid: tuple[int, int], rel_pos: bool = True
    ) -> None:
        super().__init__()
        if out_channels % head_dim != 0:
            raise ValueError(f"head_dim ({head_dim}) must divide the attention width {out_channels}")
        self.heads = out_channels // head_dim
        self.head_dim = head_dim
        self.qkv = nn.Conv2d(in_channels, 3 * out_channels, 1)
        self.rel_pos = RelPosBias(grid, self.heads) if rel_pos else None
        self.proj = nn.Conv2d(out_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        qkv = self.qkv(x).reshape(b, 3, self.heads, self.head_dim, h * w).transpose(-1, -2)
        q, k, v = qkv.unbind(1)  # each B x heads x N x d
        bias = self.rel_pos((h, w)).unsqueeze(0).to(q.dtype) if self.rel_pos is not None else None
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)  # softmax(qk^T/sqrt(d) + w) v
        return self.proj(out.transpose(-1, -2).reshape(b, -1, h, w))


class RelTransformerBlock(nn.Module):
    """Pre-norm transformer block on an NCHW map:
    ``x <- S(x) + Attn(Pool(LN(x)))``, ``x <- x + MLP(LN(x))``.

    Args:
        grid: the (output) token map the relative table is sized for.
        head_dim: channels per head (paper 32).
        rel_pos: ``False`` drops the relative bias (plain content attention, no position info).
        mlp_ratio: MLP hidden width ratio (paper 4).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int,
        grid: tuple[int, int],
        head_dim: int = 32,
        rel_pos: bool = True,
        mlp_ratio: float = 4.0,
    ) -> None:
        super().__init__()
        self.shortcut = _shortcut(in_channels, out_channels, stride)
        self.norm1 = LayerNorm2d(in_channels)
        self.pool = nn.AvgPool2d(2) if stride == 2 else nn.Identity()
        self.attn = RelAttention(in_channels, out_channels, head_dim, grid, rel_pos)
        self.norm2 = LayerNorm2d(out_channels)
        self.mlp = PointwiseMlp(out_channels, round(mlp_ratio * out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.shortcut(x) + self.attn(self.pool(self.norm1(x)))
        return x + self.mlp(self.norm2(x))


def _init_transformer(module: nn.Module) -> None:
    """ViT-style init for transformer blocks: Xavier-uniform 1x1 convs, zero biases."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


@register_graft("coat_resnet{depth}", method="CoAtNet")
def coat_resnet(
    depth: int,
    num_classes: int = 100,
    width: float = 1.0,
    attn: bool = True,
    attn_stages: int = 1,
    rel_pos: bool = True,
    head_dim: int = 32,
    heads: int | None = None,
    se: bool = True,
) -> CifarResNet:
    """CIFAR ResNet with MBConv stages and relative-attention transformer stage(s) (C-C-T).

    Args:
        attn: ``False`` makes every stage MBConv (C-C-C; ``attn_stages`` is then ignored).
        attn_stages: how many final stages are transformer stages: 0 (C-C-C), 1 (C-C-T, default;
            attention over 8x8 tokens) or 2 (C-T-T; stage 2 attends over 16x16 = 256 tokens).
        rel_pos: relative position bias (paper eq. 3) on/off; off removes the
            ``(2H-1)(2W-1) x heads`` tables (225 x 2 per stage-3 block).
        head_dim: channels per head (paper 32: 2 heads at width 64, 1 at width 32).
        heads: fixed number of heads per attention stage instead (overrides ``head_dim``;
            ``head_dim = width // heads``). Heads change only the attention pattern and the size
            of the bias tables, not the projection weights.
        se: squeeze-excitation in the MBConv blocks (paper: on).
    """
    if attn_stages not in ATTN_STAGES:
        raise ValueError(f"attn_stages must be one of {ATTN_STAGES}, got {attn_stages!r}")
    if heads is not None and (not isinstance(heads, int) or heads < 1):
        raise ValueError(f"heads must be None or a positive integer, got {heads!r}")
    if not isinstance(head_dim, int) or head_dim < 1:
        raise ValueError(f"head_dim must be a positive integer, got {head_dim!r}")
    widths = scaled_widths(width)
    num_attn = attn_stages if attn else 0
    factories: list[BlockFactory] = []
    for i, width in enumerate(widths):
        if i < len(widths) - num_attn:
            factories.append(_mbconv_factory(0.25 if se else 0.0))
            continue
        if heads is not None:
            if width % heads != 0:
                raise ValueError(f"heads={heads} must divide the attention stage width {width}")
            stage_head_dim = width // heads
        elif width % head_dim != 0:
            raise ValueError(f"head_dim={head_dim} must divide the attention stage width {width}")
        else:
            stage_head_dim = head_dim
        size = 32 // 2**i  # token map of stage i for 32x32 inputs
        factories.append(_transformer_factory((size, size), stage_head_dim, rel_pos))
    model = CifarResNet(depth, factories, num_classes=num_classes, widths=widths)
    for m in model.modules():
        if isinstance(m, RelTransformerBlock):
            _init_transformer(m)
        elif isinstance(m, MBConv):
            for conv in m.modules():
                if isinstance(conv, nn.Conv2d) and conv.bias is not None:
                    nn.init.zeros_(conv.bias)
    return model


def _mbconv_factory(se_ratio: float) -> BlockFactory:
    def factory(in_channels: int, out_channels: int, stride: int) -> nn.Module:
        return MBConv(in_channels, out_channels, stride, se_ratio=se_ratio)

    return factory


def _transformer_factory(grid: tuple[int, int], head_dim: int, rel_pos: bool) -> BlockFactory:
    def factory(in_channels: int, out_channels: int, stride: int) -> nn.Module:
        return RelTransformerBlock(in_channels, out_channels, stride, grid, head_dim, rel_pos)

    return factory


@register_model("coatnet_0", family="full", method="CoAtNet")
def coatnet_0(num_classes: int = 100, rel_pos: bool = True, drop_path_rate: float = 0.0) -> nn.Module:
    """timm CoAtNet-0 (paper config ``coatnet_0_224``, 24M parameters) for 32x32 inputs: stem and
    first stage at stride 1, stages at 32/16/8/4 (see the module docstring).

    Args:
        rel_pos: relative position bias in the attention stages (paper eq. 3) on/off.
        drop_path_rate: stochastic depth (paper's CoAtNet-0: 0.2; here 0 by the kit's
            regularisation rule, see :mod:`cifarlib.models.adaptation`).
    """
    check_drop_path_rate(drop_path_rate)
    model = timm.create_model(
        "coatnet_0_224", pretrained=False, num_classes=num_classes, img_size=32,
        drop_path_rate=drop_path_rate, transformer_rel_pos_type="bias" if rel_pos else "none",
    )
    model.stem.conv1.stride = (1, 1)
    model.stem.stride = 1
    first = model.stages[0].blocks[0]
    first.conv2_kxk.stride = (1, 1)
    first.shortcut.pool = nn.Identity()
    size = 32
    with warnings.catch_warnings():  # timm interpolates the (untrained) tables; we re-init them below
        warnings.simplefilter("ignore")
        for i, stage in enumerate(model.stages):  # the grids the attention stages now see
            size = size if i == 0 else size // 2
            stage.set_input_size(feat_size=(size, size), window_size=(size, size), grid_size=(size, size))
    for m in model.modules():
        if type(m).__name__ == "RelPosBias":
            m.reset_parameters()
    return model


__all__ = ["MBConv", "RelAttention", "RelPosBias", "RelTransformerBlock", "coat_resnet", "coatnet_0"]
