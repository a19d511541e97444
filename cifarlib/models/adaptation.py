"""One rule for adapting the ten full-size ImageNet architectures to 32x32 inputs.

**Output stride 8.** An ImageNet network reduces a 224x224 image by 32 to a 7x7 last map; at
32x32 the same strides leave 1x1, and a model whose attention or large kernels see a 1x1 or 2x2
map is not the model the paper describes. Every hierarchical full-size model here therefore
removes exactly the strides needed to reduce 32x32 by 8, so that its four stages run at
32/16/8/4 (final map 4x4), the ImageNet layout 56/28/14/7 scaled by 4/7:

* ConvNeXt-T, HorNet-T: a 3x3 stride-1 stem replaces the 4x4 stride-4 patchify stem;
* MSCAN-T (SegNeXt): the stem's two stride-2 3x3 convs run at stride 1;
* LSKNet-T: the 7x7 stride-4 patch embedding runs at stride 1;
* CoAtNet-0: the stem's stride-2 conv and the first stage's stride run at 1;
* GhostNet 1.0x: the stem's stride and the first stride-2 bottleneck's run at 1;
* ECA-ResNet-50, CSPResNet-50: the 7x7 stem conv runs at stride 1 and the max pool is removed;
* ResNeSt-50d: the deep stem's first 3x3 conv runs at stride 1 and the max pool is removed.

MLP-Mixer is isotropic (no stages): its 4x4 patches give an 8x8 token grid throughout, the same
reduction by 4 as the first stage of the others; it is the one exception and says so.

**Regularisation.** The papers' ImageNet recipes add stochastic depth or dropout sized for 300
epochs of 1.28M images (:data:`PAPER_REGULARISATION`). The study trains for a few epochs, where
they only slow fitting, so every full-size model (and every graft) is built *without* stochastic
depth or dropout by default; ``drop_path_rate`` (``drop_rate`` for GhostNet) turns the paper's
value back on, as the ``full`` preset's recipes do.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .layers import check_drop_path_rate

OUTPUT_STRIDE: int = 8
ISOTROPIC: frozenset[str] = frozenset({"mixer_s4"})

# The papers' ImageNet-1k settings (stochastic depth of the last block, classifier dropout) for
# the models that use one; the kit's default for all of them is 0 (see the module docstring).
PAPER_REGULARISATION: dict[str, dict[str, float]] = {
    "convnext_tiny": {"drop_path_rate": 0.1},
    "segnext_mscan_t": {"drop_path_rate": 0.1},
    "lsknet_t": {"drop_path_rate": 0.1},
    "coatnet_0": {"drop_path_rate": 0.2},
    "hornet_tiny": {"drop_path_rate": 0.2},
    "ghostnet_100": {"drop_rate": 0.2},
}


def final_feature_size(model: nn.Module, image_size: int = 32) -> tuple[int, int]:
    """Height and width of the last feature map (the input of global pooling) for one
    ``image_size`` x ``image_size`` image; for an isotropic token model, its token grid."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        features = model.forward_features(torch.zeros(1, 3, image_size, image_size))
    model.train(was_training)
    if features.dim() == 3:  # tokens (B, N, C): a square grid
        side = int(round(features.shape[1] ** 0.5))
        return side, side
    return int(features.shape[-2]), int(features.shape[-1])


def active_regularisation(model: nn.Module) -> dict[str, float]:
    """The largest stochastic-depth and dropout probabilities anywhere in ``model`` (0 when none)."""
    drop_path = max((float(getattr(m, "drop_prob", 0.0)) for m in model.modules()
                     if type(m).__name__ == "DropPath"), default=0.0)
    dropout = max((m.p for m in model.modules() if isinstance(m, nn.Dropout)), default=0.0)
    dropout = max(dropout, float(getattr(model, "drop_rate", 0.0) or 0.0))
    return {"drop_path": drop_path, "dropout": dropout}


__all__ = ["ISOTROPIC", "OUTPUT_STRIDE", "PAPER_REGULARISATION", "active_regularisation",
           "check_drop_path_rate", "final_feature_size"]
