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
