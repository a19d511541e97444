"""MLP-Mixer: block vs timm on shared weights, graft switches, full-size mixer_s4."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
from timm.models.mlp_mixer import MixerBlock as TimmMixerBlock
from timm.models.mlp_mixer import MlpMixer

from cifarlib.models import create_model
from cifarlib.models.mixer import MixerBlock, MixerBlock2d
from cifarlib.models.resnet import BasicBlock
from helpers import RESNET20_PARAMS, n_params


def mixer_block_params(c: int, s: int, te: float = 0.5, ce: float = 4.0) -> int:
    ds, dc = int(te * c), int(ce * c)
    return 4 * c + (2 * s * ds + ds + s) + (2 * c * dc + dc + c)


@pytest.mark.parametrize("dim,tokens,ratios", [(64, 64, (0.5, 4.0)), (32, 16, (1.0, 2.0))])
def test_mixer_block_matches_timm(dim: int, tokens: int, ratios: tuple[float, float]) -> None:
    torch.manual_seed(0)
    ours = MixerBlock(dim, tokens, *ratios).eval()
    theirs = TimmMixerBlock(dim, tokens, mlp_ratio=ratios).eval()
    for p in ours.parameters():  # non-trivial LN affine and biases
        if p.dim() == 1:
            nn.init.normal_(p, std=0.2)
    src, dst = ours.state_dict(), theirs.state_dict()
    assert [v.shape for v in src.values()] == [v.shape for v in dst.values()]
    theirs.load_state_dict({k: v for k, v in zip(dst, src.values(), strict=True)})
    x = torch.randn(2, tokens, dim)
    torch.testing.assert_close(ours(x), theirs(x))
    assert n_params(ours) == mixer_block_params(dim, tokens, *ratios)


def test_mixer_block2d_token_order_and_size_check() -> None:
    torch.manual_seed(0)
    blk = MixerBlock2d(8, 12).eval()
    x = torch.randn(2, 8, 3, 4)
    ref = blk.block(x.flatten(2).transpose(1, 2)).transpose(1, 2).reshape(2, 8, 3, 4)
    torch.testing.assert_close(blk(x), ref)
    with pytest.raises(ValueError, match="tokens"):
        blk(torch.randn(2, 8, 4, 4))


def test_default_graft_stage3_is_mixer() -> None:
    m = create_model("mixer_resnet20")
    stage3 = list(m.stages[2])
    assert isinstance(stage3[0], BasicBlock) and stage3[0].conv1.stride == (2, 2)
    assert [type(b).__name__ for b in stage3[1:]] == ["MixerBlock2d", "MixerBlock2d", "LayerNorm2d"]
    assert stage3[1].block.num_tokens == 64
    assert not any(isinstance(b, MixerBlock) for b in m.stages[:2].modules())
    # two 74k basic blocks replaced by two Mixer blocks + a final LayerNorm (2 x 64)
    basic64 = 2 * 64 * 64 * 9 + 4 * 64
    assert n_params(m) == RESNET20_PARAMS - 2 * basic64 + 2 * mixer_block_params(64, 64) + 128
    assert 100_000 < n_params(m) < 800_000


def test_attn_off_is_all_conv_resnet() -> None:
    m = create_model("mixer_resnet20", attn=False)
    assert n_params(m) == RESNET20_PARAMS
    assert not any(isinstance(b, (MixerBlock, nn.Linear)) for b in m.stages.modules())


def test_mixer_stages_and_expansions() -> None:
    two = create_model("mixer_resnet20", mixer_stages=2)
    assert isinstance(two.stages[1][0], BasicBlock) and two.stages[1][1].block.num_tokens == 256
    three = create_model("mixer_resnet20", mixer_stages=3)
    assert all(isinstance(b, MixerBlock2d) for b in list(three.stages[0])[:3])  # no downsampling in stage 1
    assert three.stages[0][0].block.num_tokens == 1024
    assert three(torch.randn(2, 3, 32, 32)).shape == (2, 100)
    base = n_params(create_model("mixer_resnet20"))
    wide = n_params(create_model("mixer_resnet20", token_expansion=1.0, channel_expansion=2.0))
    delta = 2 * (mixer_block_params(64, 64, 1.0, 2.0) - mixer_block_params(64, 64))
    assert wide - base == delta
    deep = create_model("mixer_resnet56")
    assert sum(isinstance(b, MixerBlock) for b in deep.modules()) == 8  # n - 1 = 8
    small = create_model("mixer_resnet20", img_size=16)
    assert small(torch.randn(2, 3, 16, 16)).shape == (2, 100)


@pytest.mark.parametrize("kw", [{"mixer_stages": 0}, {"mixer_stages": 4}, {"token_expansion": 0.0},
                                {"channel_expansion": -1}, {"img_size": 30}])
def test_invalid_switches(kw: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(kw))):
        create_model("mixer_resnet20", **kw)


def test_mixer_s4_is_timm_mixer_s_with_4x4_patches() -> None:
    m = create_model("mixer_s4")
    assert isinstance(m, MlpMixer)
    assert m.stem.proj.kernel_size == (4, 4) and m.stem.num_patches == 64
    assert len(m.blocks) == 8 and m.embed_dim == 512
    assert m.blocks[0].mlp_tokens.fc1.out_features == 256  # D_S = 256, D_C = 2048: Mixer-S
    assert m.blocks[0].mlp_channels.fc1.out_features == 2048
    assert m.head.out_features == 100
    assert 17.0e6 < n_params(m) < 17.4e6
    with pytest.raises(ValueError, match="drop_path_rate"):
        create_model("mixer_s4", drop_path_rate=1.5)
