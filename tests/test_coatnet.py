"""CoAtNet graft and full-size model: switches, structure, and equivalence with timm's blocks."""

from __future__ import annotations

from functools import partial

import pytest
import torch
import torch.nn as nn
from timm.layers import RelPosBias as TimmRelPosBias
from timm.models.maxxvit import MbConvBlock, TransformerBlock2d, model_cfgs

from cifarlib.models import create_model
from cifarlib.models.coatnet import MBConv, RelPosBias, RelTransformerBlock, SqueezeExcite, coat_resnet
from helpers import n_params

TIMM_CFG = model_cfgs["coatnet_0"]


def stage_kinds(model: nn.Module) -> list[set[type]]:
    return [{type(b) for b in stage} for stage in model.stages]


def tables(model: nn.Module) -> list[tuple[int, ...]]:
    return [tuple(m.table.shape) for m in model.modules() if isinstance(m, RelPosBias)]


def randomize(module: nn.Module) -> None:
    """Random weights and BN statistics, so that an equivalence test checks every tensor."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * 0.2)
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 1.5)


def test_graft_default_is_cct() -> None:
    model = coat_resnet(20)
    assert 100_000 <= n_params(model) <= 800_000
    assert stage_kinds(model) == [{MBConv}, {MBConv}, {RelTransformerBlock}]
    # 3 stage-3 blocks, 8x8 tokens: (2*8-1)^2 = 225 offsets, 64/32 = 2 heads
    assert tables(model) == [(225, 2)] * 3
    assert all(isinstance(b.se, SqueezeExcite) for b in model.modules() if isinstance(b, MBConv))
    x = torch.randn(2, 3, 32, 32)
    assert model.forward_features(x).shape == (2, 64, 8, 8)


def test_attn_switches() -> None:
    ccc = coat_resnet(20, attn=False)
    assert stage_kinds(ccc) == [{MBConv}] * 3 and tables(ccc) == []
    assert n_params(ccc) == n_params(coat_resnet(20, attn_stages=0))
    assert n_params(coat_resnet(20, attn=False, attn_stages=2)) == n_params(ccc)  # attn=False wins
    ctt = coat_resnet(20, attn_stages=2)
    assert stage_kinds(ctt) == [{MBConv}, {RelTransformerBlock}, {RelTransformerBlock}]
    assert tables(ctt) == [(31 * 31, 1)] * 3 + [(225, 2)] * 3  # 16x16 tokens, 1 head of 32


def test_rel_pos_and_heads_switches() -> None:
    base = n_params(coat_resnet(20))
    no_rel = coat_resnet(20, rel_pos=False)
    assert tables(no_rel) == [] and all(b.attn.rel_pos is None for b in no_rel.stages[2])
    assert base - n_params(no_rel) == 3 * 225 * 2
    four = coat_resnet(20, heads=4)
    assert [b.attn.heads for b in four.stages[2]] == [4] * 3 and tables(four) == [(225, 4)] * 3
    assert n_params(four) - base == 3 * 225 * 2  # only the bias tables grow
    assert n_params(coat_resnet(20, head_dim=16)) == n_params(four)


def test_se_switch() -> None:
    no_se = coat_resnet(20, se=False)
    assert not any(isinstance(m, SqueezeExcite) for m in no_se.modules())
    assert n_params(no_se) < n_params(coat_resnet(20))


@pytest.mark.parametrize(
    "kwargs, name",
    [(dict(attn_stages=3), "attn_stages"), (dict(heads=3), "heads"), (dict(heads=0), "heads"),
     (dict(head_dim=24), "head_dim"), (dict(head_dim=0), "head_dim")],
)
def test_invalid_switches(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        coat_resnet(20, **kwargs)


def test_rel_pos_bias_is_translation_invariant() -> None:
    torch.manual_seed(0)
    rel = RelPosBias((4, 4), heads=2)
    bias = rel((4, 4))
    assert bias.shape == (2, 16, 16)
    # query (1,1) -> key (2,3) and query (0,0) -> key (1,2) share the offset (-1,-2)
    torch.testing.assert_close(bias[:, 1 * 4 + 1, 2 * 4 + 3], bias[:, 0, 1 * 4 + 2])
    small = rel((2, 3))  # smaller maps reuse the central offsets
    torch.testing.assert_close(small[:, 0, 1 * 3 + 2], bias[:, 0, 1 * 4 + 2])
    with pytest.raises(ValueError, match="relative position table"):
        rel((5, 4))
    model = coat_resnet(20).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 16, 16)).shape == (1, 100)


@pytest.mark.parametrize("in_ch, out_ch, stride", [(16, 16, 1), (16, 32, 2)])
def test_mbconv_matches_timm(in_ch: int, out_ch: int, stride: int) -> None:
    torch.manual_seed(0)
    ref = MbConvBlock(in_ch, out_ch, stride=stride, cfg=TIMM_CFG.conv_cfg)
    randomize(ref)
    ours = MBConv(in_ch, out_ch, stride)
    ours.load_state_dict(ref.state_dict(), strict=True)
    ref.eval(), ours.eval()
    x = torch.randn(2, in_ch, 8, 8)
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("in_ch, out_ch, stride", [(64, 64, 1), (32, 64, 2)])
def test_transformer_block_matches_timm(in_ch: int, out_ch: int, stride: int) -> None:
    """timm's TransformerBlock2d (coatnet_0 config) and ours agree on shared weights.

    Differences are layout only: timm names the pre-attention norm ``norm1.norm`` when it pools,
    calls the table ``relative_position_bias_table``, and orders the qkv channels head-first
    (head, q/k/v, dim) where we use (q/k/v, head, dim); the test permutes those rows.
    """
    torch.manual_seed(0)
    grid, head_dim = (4, 4), 32
    ref = TransformerBlock2d(
        in_ch, out_ch, stride=stride, cfg=TIMM_CFG.transformer_cfg,
        rel_pos_cls=partial(TimmRelPosBias, window_size=grid),
    )
    randomize(ref)
    heads = out_ch // head_dim
    state = {}
    for key, value in ref.state_dict().items():
        key = key.replace("norm1.norm.", "norm1.").replace("relative_position_bias_table", "table")
        if key.startswith("attn.qkv."):
            value = value.view(heads, 3, head_dim, *value.shape[1:]).transpose(0, 1).reshape(value.shape)
        state[key] = value
    ours = RelTransformerBlock(in_ch, out_ch, stride, grid, head_dim)
    ours.load_state_dict(state, strict=True)
    ref.eval(), ours.eval()
    x = torch.randn(2, in_ch, grid[0] * stride, grid[1] * stride)
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-4, atol=1e-4)


def test_full_size_coatnet_0() -> None:
    model = create_model("coatnet_0")
    assert 23e6 < n_params(model) < 26e6
    assert model.stem.conv1.stride == (1, 1)
    first = model.stages[0].blocks[0]
    assert first.conv2_kxk.stride == (1, 1) and isinstance(first.shortcut.pool, torch.nn.Identity)
    # the tables cover the maps the attention stages really see: stage 3 (5 blocks) 8x8, stage 4 4x4
    grids = [tuple(m.window_size) for m in model.modules() if isinstance(m, TimmRelPosBias)]
    assert grids == [(8, 8)] * 5 + [(4, 4)] * 2
    sizes = []
    hooks = [s.register_forward_hook(lambda _m, _i, out: sizes.append(tuple(out.shape[-2:])))
             for s in model.stages]
    with torch.no_grad():
        assert model.forward_features(torch.randn(1, 3, 32, 32)).shape == (1, 768, 4, 4)
    for h in hooks:
        h.remove()
    assert sizes == [(32, 32), (16, 16), (8, 8), (4, 4)]
    no_rel = create_model("coatnet_0", rel_pos=False)
    assert not any(isinstance(m, TimmRelPosBias) for m in no_rel.modules())
    with pytest.raises(ValueError, match="drop_path_rate"):
        create_model("coatnet_0", drop_path_rate=1.5)
