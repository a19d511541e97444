"""SegNeXt: the MSCA module, the msca_resnet graft switches, the full-size MSCAN-T.

timm has no SegNeXt/MSCAN (nor an MSCA block), so there is no numerical equivalence test against
a reference implementation; the module is checked against the paper's equation by hand instead.
"""

from __future__ import annotations


import pytest
import torch
import torch.nn as nn

from cifarlib.models import create_model
from cifarlib.models.resnet import BasicBlock
from cifarlib.models.segnext import MSCA, strip_conv
from cifarlib.models.van_stages import PreNormResidual, VanBlock
from helpers import RESNET20_PARAMS, n_params, stage_shapes


def gradient_support(fn, channels: int, size: int, at: tuple[int, int]) -> torch.Tensor:
    """Boolean HxW map of the inputs that output position ``at`` (channel 0) depends on."""
    x = torch.randn(1, channels, size, size, requires_grad=True)
    fn(x)[0, 0, at[0], at[1]].backward()
    return x.grad[0].abs().sum(0) > 0


def positive_weights(module: nn.Module) -> nn.Module:
    """Make every weight positive so that no gradient cancels by chance."""
    torch.manual_seed(0)
    for p in module.parameters():
        nn.init.uniform_(p, 0.1, 1.0)
    return module


@pytest.mark.parametrize("channels", [16, 32, 64])
def test_msca_param_formula(channels: int) -> None:
    # 5x5 dw (26C) + strips 2(k+1)C each (84C for 7/11/21) + 1x1 mix (C^2 + C) = C^2 + 111C
    assert n_params(MSCA(channels)) == channels**2 + 111 * channels
    assert n_params(MSCA(channels, branches=())) == channels**2 + 27 * channels
    assert n_params(MSCA(channels, branches=(9,))) == channels**2 + 27 * channels + 20 * channels


def test_msca_matches_equation() -> None:
    torch.manual_seed(0)
    m = MSCA(8).eval()
    x = torch.randn(2, 8, 12, 12)
    local = m.dw(x)
    expected = m.mix(local + sum(s(local) for s in m.strips)) * x  # Scale_0 = identity
    torch.testing.assert_close(m(x), expected)
    s0 = m.strips[0]
    assert s0[0].kernel_size == (1, 7) and s0[1].kernel_size == (7, 1)
    assert all(c.groups == 8 for s in m.strips for c in s)  # depthwise


def test_msca_receptive_field() -> None:
    # 1xk followed by kx1 is a rank-1 (separable) k x k kernel, so after the 5x5 conv the
    # 21-tap branch sees a dense (5 + 21 - 1)^2 = 25x25 square.
    m = positive_weights(MSCA(4, branches=(21,)))
    support = gradient_support(m.attention, 4, 41, (20, 20))
    assert support[8:33, 8:33].all() and support.sum() == 25 * 25
    local_only = positive_weights(MSCA(4, branches=()))
    assert gradient_support(local_only.attention, 4, 41, (20, 20)).sum() == 5 * 5


def test_21_tap_strip_covers_an_8x8_map() -> None:
    # The docstring's note: at the third stage (8x8) a 21-tap strip sees the whole map.
    full = gradient_support(positive_weights(strip_conv(2, 21)), 2, 8, (0, 0))
    assert full.all()
    part = gradient_support(positive_weights(strip_conv(2, 7)), 2, 8, (0, 0))
    assert part.sum() == 4 * 4  # offsets 0..3 in each direction


def test_graft_switches_change_params_as_documented() -> None:
    base = n_params(create_model("msca_resnet20"))
    # MSCA (C^2 + 111C) + BN (2C) + layer scale (C) of the residual form
    per_block = sum(3 * (c**2 + 114 * c) for c in (16, 32, 64))
    assert base - RESNET20_PARAMS == per_block == 54_432
    bare = n_params(create_model("msca_resnet20", residual=False))
    assert base - bare == sum(3 * 3 * c for c in (16, 32, 64))
    assert n_params(create_model("msca_resnet20", attn=False)) == RESNET20_PARAMS
    assert n_params(create_model("resnet20")) == RESNET20_PARAMS
    no_strips = n_params(create_model("msca_resnet20", branches=()))
    assert base - no_strips == sum(3 * 84 * c for c in (16, 32, 64))
    only_7 = n_params(create_model("msca_resnet20", branches=(7,)))
    assert only_7 - no_strips == sum(3 * 16 * c for c in (16, 32, 64))
    assert 100_000 < base < 800_000
    assert 100_000 < n_params(create_model("msca_resnet32")) < 800_000


def test_graft_structure() -> None:
    m = create_model("msca_resnet20", attn_position="post_add", branches=[11, 21])
    blocks = [b for b in m.modules() if isinstance(b, BasicBlock)]
    assert len(blocks) == 9
    assert all(isinstance(b.attn, PreNormResidual) and b.attn_position == "post_add" for b in blocks)
    assert all(isinstance(b.attn.gate, MSCA) and b.attn.gate.branches == (11, 21) for b in blocks)
    bare = create_model("msca_resnet20", residual=False)
    assert all(type(b.attn) is MSCA for b in bare.modules() if isinstance(b, BasicBlock))
    off = create_model("msca_resnet20", attn=False)
    assert not any(isinstance(mod, MSCA) for mod in off.modules())
    assert sum(isinstance(mod, MSCA) for mod in create_model("msca_resnet56").modules()) == 27


def test_residual_form_matches_docstring() -> None:
    torch.manual_seed(0)
    m = PreNormResidual(8, MSCA(8)).eval()
    x = 3 * torch.randn(2, 8, 6, 6) + 1
    z = m.norm(x)
    torch.testing.assert_close(m(x), x + m.gamma * (m.gate.attention(z) * z))
    assert torch.equal(m.gamma, torch.full((8, 1, 1), 1e-2))


def test_attn_position_changes_output() -> None:
    torch.manual_seed(0)
    pre = BasicBlock(8, 8, attn=MSCA, attn_position="pre_add").eval()
    post = BasicBlock(8, 8, attn=MSCA, attn_position="post_add").eval()
    post.load_state_dict(pre.state_dict())
    x = torch.randn(2, 8, 8, 8)
    with torch.no_grad():
        out = pre.bn2(pre.conv2(pre.relu(pre.bn1(pre.conv1(x)))))
        torch.testing.assert_close(pre(x), torch.relu(pre.attn(out) + x))
        torch.testing.assert_close(post(x), torch.relu(post.attn(out + x)))


@pytest.mark.parametrize(
    "kwargs",
    [{"attn_position": "middle"}, {"residual": 1}, {"branches": (6,)}, {"branches": (7, 7)},
     {"branches": (1,)},
     {"branches": "7"}, {"branches": 7}, {"branches": (True,)}],
)
def test_invalid_switches_raise(kwargs: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        create_model("msca_resnet20", **kwargs)


def test_invalid_full_size_switches_raise() -> None:
    with pytest.raises(ValueError, match="branches"):
        create_model("segnext_mscan_t", branches=(4,))
    with pytest.raises(ValueError, match="drop_path_rate"):
        create_model("segnext_mscan_t", drop_path_rate=1.5)


def test_mscan_t_architecture() -> None:
    torch.manual_seed(0)
    m = create_model("segnext_mscan_t").eval()
    stem_convs = [c for c in m.stages[0].embed if isinstance(c, nn.Conv2d)]
    assert [c.stride for c in stem_convs] == [(1, 1), (1, 1)]  # paper: two stride-2 convs
    assert [len(s.blocks) for s in m.stages] == [3, 3, 5, 2]
    hidden = [s.blocks[0].mlp.fc1.out_channels for s in m.stages]
    assert hidden == [8 * 32, 8 * 64, 4 * 160, 4 * 256]
    blocks = [b for b in m.modules() if isinstance(b, VanBlock)]
    assert all(isinstance(b.attn.gate, MSCA) and b.attn.gate.branches == (7, 11, 21) for b in blocks)
    assert torch.allclose(blocks[0].gamma1, torch.full_like(blocks[0].gamma1, 1e-2))
    assert all(isinstance(b.drop_path, nn.Identity) for b in blocks)  # no stochastic depth by default
    paper = [b for b in create_model("segnext_mscan_t", drop_path_rate=0.1).modules() if isinstance(b, VanBlock)]
    assert isinstance(paper[0].drop_path, nn.Identity)  # the paper's grows from 0 ...
    assert paper[-1].drop_path.drop_prob == pytest.approx(0.1)  # ... to 0.1 at the last block
    assert stage_shapes(m) == [(32, 32, 32), (64, 16, 16), (160, 8, 8), (256, 4, 4)]
    # The paper's MSCAN-T has 4.2M parameters with its 1000-class ImageNet head.
    assert abs(n_params(create_model("segnext_mscan_t", num_classes=1000)) - 4.2e6) < 0.1e6


def test_mscan_t_branches_switch() -> None:
    full = n_params(create_model("segnext_mscan_t"))
    no_strips = n_params(create_model("segnext_mscan_t", branches=()))
    blocks_x_width = 3 * 32 + 3 * 64 + 5 * 160 + 2 * 256
    assert full - no_strips == 84 * blocks_x_width


def test_bf16_channels_last_training_step_finishes() -> None:
    """Regression guard: bf16 depthwise 1x21 convs in channels_last did not finish on CPU (oneDNN,
    torch 2.14.1); the strips now run in fp32 under CPU autocast. A subprocess with a generous
    limit turns a hang into a failure instead of a stalled CI run (this is not a speed test)."""
    import subprocess
    import sys

    code = (
        "import torch\n"
        "from cifarlib.models import create_model\n"
        "torch.set_num_threads(1)\n"
        "m = create_model('msca_resnet20', num_classes=10).to(memory_format=torch.channels_last)\n"
        "x = torch.randn(8, 3, 32, 32).contiguous(memory_format=torch.channels_last)\n"
        "with torch.autocast('cpu', dtype=torch.bfloat16):\n"
        "    loss = m(x).float().logsumexp(1).mean()\n"
        "loss.backward()\n"
        "assert all(p.grad is not None for p in m.parameters())\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
