"""Models: the CIFAR ResNet backbone, ten grafted methods and ten full-size 32x32 networks.

Importing this package registers every model; use :func:`create_model` and :func:`list_models`.
"""

from .registry import create_model, list_models, model_entry, register_graft, register_model

# Each import registers its models (order = listing order).
from . import resnet  # noqa: F401  (backbone)
from . import eca  # noqa: F401

__all__ = ["create_model", "list_models", "model_entry", "register_graft", "register_model"]
from . import convnext  # noqa: F401
from . import coatnet  # noqa: F401
from . import resnest  # noqa: F401
from . import cspnet  # noqa: F401
from . import eca_full  # noqa: F401
from . import hornet  # noqa: F401
from . import ghostnet  # noqa: F401
from . import mixer  # noqa: F401
from . import segnext  # noqa: F401
from . import lsknet  # noqa: F401
