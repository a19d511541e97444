"""HorNet: recursive gated convolution gnConv (Rao et al., NeurIPS 2022, arXiv:2207.14284).

gnConv performs ``n``-th order spatial interactions with gated depthwise convolutions. A 1x1
projection splits the input into one *gate* ``p_0`` and ``n`` *branches* ``q_0 .. q_{n-1}``;
the branches pass through one depthwise ``k x k`` conv ``f`` and the gate is multiplied by them
one after the other, widening at every step (paper eq. 3.3-3.4):

    [p_0^{C_0}, q_0^{C_0}, ..., q_{n-1}^{C_{n-1}}] = phi_in(x)               (1x1 conv, C -> 2C)
    p_{k+1} = f_k(q_k) * g_k(p_k) / alpha,             k = 0, ..., n-1
    y       = phi_out(p_n)                                                   (1x1 conv, C -> C)

    C_k = C / 2^{n-1-k},   g_0 = identity,   g_k = 1x1 conv C_{k-1} -> C_k  (k >= 1)

``*`` is the element-wise product and ``1/alpha = 1/3`` (the official scale ``s``); all
``f_k`` are one depthwise conv over the concatenated ``q``'s. ``phi_in`` outputs exactly ``2C``
channels because ``C_0 + sum_k C_k = 2C``. The input channels must be divisible by
``2^{n-1}``.

Parameters of one gnConv on ``C`` channels with kernel ``k`` (all convs have biases):
``phi_in`` 2C^2 + 2C, ``phi_out`` C^2 + C, depthwise ``(k^2 + 1) * sum_k C_k`` with
``sum_k C_k = C (2 - 2^{1-n})``, and the ``g_k`` ``sum_{k>=1} (C_{k-1} + 1) C_k``. So raising the
order adds only a little: at C = 64, k = 7 orders 1..5 cost 15,680 / 19,392 / 20,736 / 21,280 /
21,520 parameters.

HorBlock (the full model): a pre-norm residual block with layer scale, like ConvNeXt/Swin,

    x = x + gamma_1 * gnConv(LN(x)),      x = x + gamma_2 * MLP(LN(x))   (MLP: C -> 4C -> C, GELU)

Graft (``hor_resnet{depth}``), our choice: gnConv enters every basic block through the
backbone's ``attn`` hook as a HorBlock's spatial-mixing half, ``A(z) = z + gamma * gnConv(LN(z))``
(LayerNorm over channels, layer scale ``gamma`` initialised to 1e-6 as in HorNet, so every block
starts as the plain ResNet block). ``pre_add`` applies it to the residual branch ``F(x)`` before
the shortcut add, ``post_add`` to the sum. The 3x3 convs are kept, so the graft costs extra
parameters instead of trading them: +0.09M at depth 20 with order 3 and 7x7 kernels
(0.369M vs the backbone's 0.278M), inside the 0.1-0.8M budget; widths stay 16/32/64 (every width
is divisible by 2^{5-1} = 16, so all orders 1..5 work in every stage). Nothing needed changing
for 32x32 inputs.

Full-size ``hornet_tiny`` (HorNet-T 7x7): base width 64, widths 64/128/256/512, depths
2/3/18/2, gnConv orders 2/3/4/5 per stage, 7x7 depthwise kernels, ``alpha = 3``, layer scale
1e-6, LayerNorms (eps 1e-6) before every downsampling conv (2x2, stride 2) and before the head,
stochastic depth rising linearly to 0.2 (HorNet-T's rate), truncated-normal (std 0.02) init.
Changed for 32x32: the ImageNet stem (4x4 conv, stride 4, giving 56x56 maps at 224) is replaced
by a 3x3 conv with stride 1 (``stem_stride=1``, default), so the stage maps are 32/16/8/4 and the
final map is 4x4, the output stride 8 that every full-size model here uses
(:mod:`cifarlib.models.adaptation`); ``stem_stride=2`` uses a 2x2 stride-2 patchify conv instead
(maps 16/8/4/2, a quarter of the FLOPs, outside that rule).
"""

from __future__ import annotations

import torch
import torch.nn as nn
from timm.layers import DropPath, trunc_normal_

from .layers import LayerNorm2d, check_drop_path_rate
from .registry import register_graft, register_model
from .resnet import AttnPosition, CifarResNet, scaled_widths, basic_block_factory, check_attn_position

ORDERS: tuple[int, ...] = (1, 2, 3, 4, 5)
GNCONV_SCALE = 1.0 / 3.0  # 1 / alpha in the paper, ``s`` in the official code


def check_order(order: int) -> None:
    """Raise a clear error for a gnConv order outside 1..5."""
    if order not in ORDERS or isinstance(order, bool):
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")


def check_kernel_size(kernel_size: int) -> None:
    """Raise a clear error for a depthwise kernel size that is not a positive odd integer."""
    if not isinstance(kernel_size, int) or isinstance(kernel_size, bool) or kernel_size < 1 \
            or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd integer (3, 5, 7, ...), got {kernel_size!r}")


class GnConv(nn.Module):
    """Recursive gated convolution of order ``n`` on ``dim`` channels (see the module docstring).

    Args:
        dim: channels ``C`` (divisible by ``2**(order-1)``).
        order: interaction order ``n`` (1..5).
        kernel_size: depthwise kernel of the ``f_k`` (odd).
        scale: ``1/alpha`` multiplying the depthwise output (1/3 in HorNet).
    """

    def __init__(self, dim: int, order: int = 3, kernel_size: int = 7, scale: float = GNCONV_SCALE) -> None:
        super().__init__()
        check_order(order)
        check_kernel_size(kernel_size)
        if dim % 2 ** (order - 1) != 0:
            raise ValueError(
                f"gnConv of order {order} needs channels divisible by {2 ** (order - 1)}, got {dim}"
            )
        self.order = order
        self.scale = scale
        self.dims = [dim // 2 ** (order - 1 - k) for k in range(order)]  # C_0 .. C_{n-1}
        q_channels = sum(self.dims)
        self.proj_in = nn.Conv2d(dim, 2 * dim, 1)
        self.dwconv = nn.Conv2d(q_channels, q_channels, kernel_size, padding=kernel_size // 2,
                                groups=q_channels)
        self.gates = nn.ModuleList(nn.Conv2d(self.dims[k - 1], self.dims[k], 1) for k in range(1, order))
        self.proj_out = nn.Conv2d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p, q = torch.split(self.proj_in(x), [self.dims[0], sum(self.dims)], dim=1)
        fq = torch.split(self.dwconv(q) * self.scale, self.dims, dim=1)
        p = p * fq[0]  # p_1 = f_0(q_0) * p_0 / alpha
        for g, f in zip(self.gates, fq[1:]):
            p = g(p) * f  # p_{k+1} = f_k(q_k) * g_k(p_k) / alpha
        return self.proj_out(p)


class GnConvMixer(nn.Module):
    """The spatial half of a HorBlock, used as the graft's attention: ``z + gamma * gnConv(LN(z))``.

    Args:
        dim: channels.
        order, kernel_size: of the gnConv.
        layer_scale_init: initial value of the per-channel scale ``gamma`` (HorNet: 1e-6).
    """

    def __init__(
        self, dim: int, order: int = 3, kernel_size: int = 7, layer_scale_init: float = 1e-6
    ) -> None:
        super().__init__()
        self.norm = LayerNorm2d(dim, eps=1e-6)
        self.gnconv = GnConv(dim, order, kernel_size)
        self.gamma = nn.Parameter(torch.full((dim, 1, 1), layer_scale_init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.gamma * self.gnconv(self.norm(x))


class HorBlock(nn.Module):
    """HorNet block: ``x + g1 * gnConv(LN(x))`` then ``x + g2 * MLP(LN(x))`` with stochastic depth.

    The MLP (C -> 4C -> C, GELU) acts per position on a channels-last view, as in the official code.
    """

    def __init__(
        self,
        dim: int,
        order: int,
        kernel_size: int = 7,
        drop_path: float = 0.0,
        layer_scale_init: float = 1e-6,
        mlp_ratio: int = 4,
    ) -> None:
        super().__init__()
        self.norm1 = LayerNorm2d(dim, eps=1e-6)
        self.gnconv = GnConv(dim, order, kernel_size)
        self.gamma1 = nn.Parameter(torch.full((dim, 1, 1), layer_scale_init))
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Linear(mlp_ratio * dim, dim))
        self.gamma2 = nn.Parameter(torch.full((dim,), layer_scale_init))
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.gamma1 * self.gnconv(self.norm1(x)))
        y = self.gamma2 * self.mlp(self.norm2(x.permute(0, 2, 3, 1)))  # B x H x W x C
        return x + self.drop_path(y.permute(0, 3, 1, 2))


class HorNet(nn.Module):
    """HorNet with four stages (see the module docstring for the 32x32 stem).

    Args:
        num_classes: classifier outputs.
        dims: stage widths.
        depths: blocks per stage.
        orders: gnConv order per stage.
        kernel_size: depthwise kernel of every gnConv.
        stem_stride: 1 (3x3 conv, default) or 2 (2x2 patchify conv).
        drop_path_rate: stochastic depth of the last block (linear from 0).
    """

    def __init__(
        self,
        num_classes: int = 100,
        dims: tuple[int, ...] = (64, 128, 256, 512),
        depths: tuple[int, ...] = (2, 3, 18, 2),
        orders: tuple[int, ...] = (2, 3, 4, 5),
        kernel_size: int = 7,
        stem_stride: int = 1,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if stem_stride not in (1, 2):
            raise ValueError(f"stem_stride must be one of (1, 2), got {stem_stride!r}")
        check_drop_path_rate(drop_path_rate)
        if not len(dims) == len(depths) == len(orders):
            raise ValueError("dims, depths and orders need one entry per stage")
        stem_conv = (nn.Conv2d(3, dims[0], 2, stride=2) if stem_stride == 2
                     else nn.Conv2d(3, dims[0], 3, padding=1))
        self.stem = nn.Sequential(stem_conv, LayerNorm2d(dims[0], eps=1e-6))
        rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        stages, start = [], 0
        for i, (dim, depth, order) in enumerate(zip(dims, depths, orders)):
            down = [] if i == 0 else [
                LayerNorm2d(dims[i - 1], eps=1e-6), nn.Conv2d(dims[i - 1], dim, 2, stride=2)
            ]
            blocks = [HorBlock(dim, order, kernel_size, rates[start + j]) for j in range(depth)]
            stages.append(nn.Sequential(*down, *blocks))
            start += depth
        self.stages = nn.Sequential(*stages)
        self.norm = nn.LayerNorm(dims[-1], eps=1e-6)
        self.head = nn.Linear(dims[-1], num_classes)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(self.forward_features(x).mean((-2, -1))))


@register_graft("hor_resnet{depth}", method="HorNet")
def hor_resnet(
    depth: int,
    num_classes: int = 100,
    width: float = 1.0,
    attn: bool = True,
    attn_position: AttnPosition = "pre_add",
    order: int = 3,
    kernel_size: int = 7,
    layer_scale_init: float = 1e-6,
) -> CifarResNet:
    """CIFAR ResNet with a gnConv sub-block ``z + gamma * gnConv(LN(z))`` in every basic block.

    Args:
        attn: ``False`` removes gnConv (the model is then exactly the plain ResNet).
        attn_position: ``"pre_add"`` (on the residual branch, default) or ``"post_add"`` (on the
            sum); parameter counts are identical.
        order: interaction order ``n`` in 1..5 (default 3); each step up adds a few parameters
            (depth 20: 0.346M / 0.362M / 0.369M / 0.371M / 0.373M for orders 1..5).
        kernel_size: odd depthwise kernel of the gnConv (default 7, HorNet's); each channel of
            the ``q`` branches holds ``k^2`` weights.
        layer_scale_init: initial ``gamma`` of the gnConv sub-block (HorNet: 1e-6; an ablation
            switch, see the layer-scale evidence in the method page).
    """
    check_attn_position(attn_position)
    check_order(order)
    check_kernel_size(kernel_size)
    if isinstance(layer_scale_init, bool) or not isinstance(layer_scale_init, (int, float)) or layer_scale_init <= 0:
        raise ValueError(f"layer_scale_init must be a positive float (HorNet: 1e-6), got {layer_scale_init!r}")
    factory = (lambda c: GnConvMixer(c, order, kernel_size, float(layer_scale_init))) if attn else None
    model = CifarResNet(
        depth, basic_block_factory(factory, attn_position), num_classes=num_classes, widths=scaled_widths(width)
    )
    for m in model.modules():  # the grafted gnConvs start as in the official code (trunc normal .02)
        if isinstance(m, GnConvMixer):
            m.apply(HorNet._init_weights)
    return model


@register_model("hornet_tiny", family="full", method="HorNet")
def hornet_tiny(
    num_classes: int = 100,
    kernel_size: int = 7,
    stem_stride: int = 1,
    drop_path_rate: float = 0.0,
) -> HorNet:
    """HorNet-T 7x7 (widths 64-512, depths 2/3/18/2, orders 2/3/4/5), ~22M parameters, with a
    3x3 stride-1 stem for 32x32 inputs (stages 32/16/8/4, final map 4x4).

    Args:
        kernel_size: depthwise kernel of every gnConv (paper: 7).
        stem_stride: 1 (default; 3x3 conv) or 2 (2x2 conv, maps 16/8/4/2, ~1/4 the FLOPs).
        drop_path_rate: stochastic depth of the last block (paper's HorNet-T: 0.2; here 0 by the
            kit's regularisation rule, see :mod:`cifarlib.models.adaptation`).
    """
    check_kernel_size(kernel_size)
    return HorNet(
        num_classes, kernel_size=kernel_size, stem_stride=stem_stride, drop_path_rate=drop_path_rate
    )
