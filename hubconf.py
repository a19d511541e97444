"""torch.hub entry points: every registered cifarlib model, optionally with exported weights.

    model = torch.hub.load("/path/to/clone", "eca_resnet20", source="local", num_classes=100)
    model = torch.hub.load("/path/to/clone", "resnet20", source="local",
                           weights="exports/cifar10-jpeg/main/resnet20-default-s0.pth")

``weights`` is a local path or a URL of a file written by ``python -m cifarlib export`` (an fp32
state dict); its ``<run>.meta.json`` beside it (same folder or URL prefix) says which model
switches, classes and data set the weights belong to, and the returned model carries that as
``model.cifarlib_weights`` (``["trained_on"]["dataset"]``: e.g. ``cifar10-jpeg``, the JPEG copies of
CIFAR-10, not CIFAR-10 or CIFAR-100 themselves). No weights ship with the repository, so
``pretrained=True`` without ``weights`` is refused with that explanation.
"""

dependencies = ["torch", "torchvision", "timm"]

from cifarlib.hub import entry_points as _entry_points  # noqa: E402

globals().update(_entry_points())
