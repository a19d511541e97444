"""cifarlib: CIFAR-100 study kit: models, data, AMP training engine, run records, plots."""

__version__ = "0.1.0"
