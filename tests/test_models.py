"""Every registered model: 2x3x32x32 -> 2x100 logits, finite gradients, one SGD step lowers
the loss on that batch; plus the registry's behaviour."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from cifarlib.models import METHODS, create_model, list_models, model_entry

ALL_MODELS = list_models()


def test_registry_lists_the_method_table() -> None:
    """The registry holds the backbone and, per method of the table, its graft, iso graft and
    full-size network, in the table's order."""
    assert list_models("backbone") == ["resnet20", "resnet32", "resnet56"]
    assert list_models("graft") == [m.graft for m in METHODS]
    assert list_models("iso") == [m.iso for m in METHODS]
    assert list_models("full") == [m.full for m in METHODS if m.full is not None]
    assert [model_entry(m.graft).method for m in METHODS] == [m.name for m in METHODS]
    assert len({m.name for m in METHODS}) == len(METHODS) == len(list_models("graft"))
    assert all(model_entry(m.full).method == m.name for m in METHODS if m.full is not None)


def test_unknown_model_lists_valid_names() -> None:
    with pytest.raises(KeyError) as err:
        create_model("resnet21x")
    assert "resnet20" in str(err.value) and "eca_resnet20" in str(err.value)


def test_unknown_switch_is_named() -> None:
    with pytest.raises(TypeError, match="eca_resnet20.*no_such_switch"):
        create_model("eca_resnet20", no_such_switch=1)


@pytest.mark.parametrize("name,depth", [("eca_resnet32", 32), ("eca_resnet56", 56),
                                        ("resnest32", 32), ("mixer_resnet44", 44)])
def test_grafts_accept_any_depth(name: str, depth: int) -> None:
    model = create_model(name, num_classes=10).eval()
    assert model_entry(name).depth == depth
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 10)


def test_bad_depth_is_rejected() -> None:
    with pytest.raises(ValueError, match="6n\\+2"):
        create_model("eca_resnet21")


@pytest.mark.parametrize("name,params", [("resnet20", 0.27), ("resnet32", 0.47), ("resnet56", 0.86)])
def test_backbone_sizes_match_the_paper(name: str, params: float) -> None:
    n = sum(p.numel() for p in create_model(name).parameters()) / 1e6
    assert abs(n - params) < 0.015


@pytest.mark.parametrize("name", list_models("graft"))
def test_graft_budget(name: str) -> None:
    n = sum(p.numel() for p in create_model(name).parameters()) / 1e6
    assert 0.1 <= n <= 0.8, f"{name} has {n:.3f}M parameters, outside the 0.1-0.8M graft budget"


@pytest.mark.parametrize("name", ALL_MODELS)
def test_forward_backward_step(name: str) -> None:
    torch.manual_seed(0)
    model = create_model(name, num_classes=100)
    model.train()
    x = torch.randn(4, 3, 32, 32)
    y = torch.tensor([1, 2, 3, 4])
    logits = model(x)
    assert logits.shape == (4, 100)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"parameters without gradient: {missing[:5]}"
    bad = [n for n, p in model.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all()]
    assert not bad, f"non-finite gradients: {bad[:5]}"
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.0)
    opt.step()
    with torch.no_grad():
        after = F.cross_entropy(model(x), y)
    assert after.item() < loss.item(), f"one SGD step did not lower the loss ({loss.item():.4f} -> {after.item():.4f})"


@pytest.mark.parametrize("name", ["msca_resnet56", "lsk_resnet56"])
@pytest.mark.parametrize("residual", [False, True])
def test_gated_grafts_post_add_stability(name: str, residual: bool) -> None:
    """The MSCA/LSK docstrings' claim: the bare quadratic gate after the add blows activations
    up with depth (to inf/NaN or huge values); the residual form keeps every block's output O(1)."""
    import math

    from cifarlib.models.resnet import BasicBlock

    torch.manual_seed(0)
    m = create_model(name, attn_position="post_add", residual=residual)
    stds: list[float] = []
    for block in m.modules():
        if isinstance(block, BasicBlock):
            block.register_forward_hook(lambda mod, inp, out: stds.append(out.std().item()))
    with torch.no_grad():
        m(torch.randn(2, 3, 32, 32))
    healthy = all(math.isfinite(s) for s in stds) and max(stds) < 100
    assert healthy == residual
