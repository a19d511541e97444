"""Models: the CIFAR ResNet backbone, ten grafted methods (as designed and iso-parameter) and ten
full-size 32x32 networks.

Importing this package registers every model; use :func:`create_model` and :func:`list_models`.
Modules are imported in the order of the design table (ConvNeXt ... MLP-Mixer), which is the
listing order within each family.
"""

from .registry import create_model, list_models, model_entry, register_graft, register_model

# Each import registers its models.
from . import resnet  # noqa: F401,E402  backbone: resnet20/32/56
from . import convnext  # noqa: F401,E402  1 ConvNeXt
from . import segnext  # noqa: F401,E402  2 SegNeXt (MSCA)
from . import lsknet  # noqa: F401,E402  3 LSKNet
from . import coatnet  # noqa: F401,E402  4 CoAtNet
from . import eca  # noqa: F401,E402  5 ECA-Net
from . import cspnet  # noqa: F401,E402  6 CSPNet
from . import ghostnet  # noqa: F401,E402  7 GhostNet
from . import hornet  # noqa: F401,E402  8 HorNet
from . import resnest  # noqa: F401,E402  9 ResNeSt
from . import mixer  # noqa: F401,E402  10 MLP-Mixer
from . import iso  # noqa: F401,E402  iso-parameter grafts: <graft>_iso

__all__ = ["create_model", "list_models", "model_entry", "register_graft", "register_model"]
