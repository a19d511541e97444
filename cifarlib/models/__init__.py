"""Models: the CIFAR ResNet backbone, the study's grafted methods (as designed and iso-parameter)
and their full-size 32x32 networks.

Importing this package registers every model; use :func:`create_model` and :func:`list_models`.
The methods are those of the method table (:data:`.methods.METHODS`): each entry's model file is
imported here, in the table's order (the listing order within each family), then the
iso-parameter grafts are registered from the same table (:mod:`.iso`).
"""

from .registry import create_model, list_models, model_entry, register_graft, register_model

from . import resnet  # noqa: F401,E402  backbone: resnet20/32/56 (registers itself)
from .methods import METHODS, load_methods  # noqa: E402

load_methods()  # each method's model file registers its graft and full-size network; then the iso grafts

__all__ = ["METHODS", "create_model", "list_models", "load_methods", "model_entry", "register_graft",
           "register_model"]
