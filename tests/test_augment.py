"""Cutout, mixup and CutMix (cifarlib.augment): what each does to a batch and its loss."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from cifarlib.augment import cutout, mix_batch


def test_cutout_zeroes_one_square_per_image_and_is_seeded() -> None:
    x = torch.ones(64, 3, 32, 32)
    out = cutout(x, 8, torch.Generator().manual_seed(0))
    holes = (out == 0).all(1)  # N x H x W: zero in every channel
    areas = holes.sum((1, 2))
    assert (areas <= 64).all() and (areas > 0).all() and (areas == 64).any()  # clipped at borders only
    rows, cols = holes.any(2), holes.any(1)
    assert ((rows.sum(1) * cols.sum(1)) == areas).all()  # each hole is one rectangle
    again = cutout(x, 8, torch.Generator().manual_seed(0))
    assert torch.equal(out, again) and torch.equal(cutout(x, 0), x)


def test_no_mixing_leaves_the_batch_and_the_loss_alone() -> None:
    x, y = torch.randn(8, 3, 4, 4), torch.arange(8)
    batch = mix_batch(x, y)
    assert batch.images is x and batch.lam == 1.0
    logits = torch.randn(8, 10)
    ce = nn.CrossEntropyLoss()
    assert torch.equal(batch.loss(ce, logits), ce(logits, y))


def test_mixup_is_a_convex_combination_of_two_images() -> None:
    x, y = torch.randn(16, 3, 4, 4), torch.arange(16)
    batch = mix_batch(x, y, mixup=0.4, generator=torch.Generator().manual_seed(1))
    assert 0 <= batch.lam <= 1
    partner_index = batch.partners  # targets are the indices, so partners name the partner image
    expected = batch.lam * x + (1 - batch.lam) * x[partner_index]
    torch.testing.assert_close(batch.images, expected)
    logits = torch.randn(16, 16)
    ce = nn.CrossEntropyLoss()
    mixed = batch.lam * ce(logits, y) + (1 - batch.lam) * ce(logits, partner_index)
    torch.testing.assert_close(batch.loss(ce, logits), mixed)


@pytest.mark.parametrize("seed", range(5))
def test_cutmix_pastes_a_box_and_lam_is_the_area_kept(seed: int) -> None:
    x = torch.arange(8, dtype=torch.float32)[:, None, None, None].expand(8, 1, 32, 32).contiguous()
    y = torch.arange(8)
    batch = mix_batch(x, y, cutmix=1.0, generator=torch.Generator().manual_seed(seed))
    from_partner = batch.images != x  # a pixel changed iff it came from another image
    same = batch.partners == y  # an image paired with itself shows no change
    changed_share = from_partner[~same].float().mean((1, 2, 3))
    if len(changed_share):
        assert torch.allclose(changed_share, torch.full_like(changed_share, 1 - batch.lam))
    assert torch.equal(batch.images[from_partner], x[batch.partners][from_partner])


def test_both_on_uses_each_about_half_the_time() -> None:
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(16, 1, 8, 8), torch.arange(16)
    kinds = []
    for _ in range(200):
        b = mix_batch(x, y, mixup=1.0, cutmix=1.0, generator=g)
        moved = b.partners != y
        if moved.any() and 0 < b.lam < 1:
            # mixup changes every pixel of an image mixed with another; CutMix only a box
            kinds.append(bool((b.images[moved] != x[moved]).all()))
    assert len(kinds) > 150 and 0.35 < sum(kinds) / len(kinds) < 0.65


def test_on_the_cpu_one_generator_draws_what_it_drew_before_the_scalar_split() -> None:
    """The draw order of CPU runs is unchanged: which of the two, Beta seed, permutation, box centre."""
    import math
    import random

    x, y = torch.randn(8, 3, 32, 32), torch.arange(8)
    batch = mix_batch(x, y, mixup=1.0, cutmix=1.0, generator=torch.Generator().manual_seed(3))
    ref = torch.Generator().manual_seed(3)
    use_cutmix = bool(torch.rand(1, generator=ref) < 0.5)
    lam = random.Random(int(torch.randint(0, 2**31 - 1, (1,), generator=ref).item())).betavariate(1.0, 1.0)
    perm = torch.randperm(8, generator=ref)
    assert torch.equal(batch.partners, y[perm])
    if use_cutmix:
        cut = math.sqrt(1 - lam)
        cy, cx = (int(torch.randint(0, 32, (1,), generator=ref).item()) for _ in range(2))
        box_h, box_w = int(32 * cut), int(32 * cut)
        top, bottom = max(cy - box_h // 2, 0), min(cy + box_h - box_h // 2, 32)
        left, right = max(cx - box_w // 2, 0), min(cx + box_w - box_w // 2, 32)
        assert batch.lam == 1.0 - (bottom - top) * (right - left) / (32 * 32)
    else:
        assert batch.lam == lam


@pytest.mark.parametrize("mixup,cutmix", [(1.0, 0.0), (0.0, 1.0), (1.0, 1.0)])
def test_scalars_come_from_the_cpu_generator_and_the_device_one_only_permutes(mixup: float, cutmix: float) -> None:
    x, y = torch.randn(8, 3, 32, 32), torch.arange(8)
    lams = set()
    for device_seed in range(4):  # another device stream changes the pairing, never the scalars
        device_gen = torch.Generator().manual_seed(device_seed)
        batch = mix_batch(x, y, mixup, cutmix, device_gen, torch.Generator().manual_seed(7))
        lams.add(batch.lam)
        assert torch.equal(batch.partners, y[torch.randperm(8, generator=torch.Generator().manual_seed(device_seed))])
        only_permuted = torch.Generator().manual_seed(device_seed)
        torch.randperm(8, generator=only_permuted)
        assert torch.equal(device_gen.get_state(), only_permuted.get_state())
    assert len(lams) == 1


def test_a_device_generator_without_a_cpu_scalar_generator_is_refused() -> None:
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA generator")
    g = torch.Generator(device="cuda").manual_seed(0)
    with pytest.raises(ValueError, match="scalar_generator"):
        mix_batch(torch.randn(4, 3, 8, 8, device="cuda"), torch.arange(4, device="cuda"), 1.0, 0.0, g)
