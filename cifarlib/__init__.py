"""cifarlib: CIFAR-100 study kit: models, data, AMP training engine, run records, sweeps; the
subpackage ``cifarlib.report`` renders the book from the records (the library never imports it)."""

__version__ = "0.1.0"

import warnings as _warnings

# tqdm.auto (imported by timm's hub helpers) warns "IProgress not found" in every notebook kernel
# without ipywidgets; cifarlib's progress bars are plain tqdm, so the warning is noise.
_warnings.filterwarnings("ignore", message="IProgress not found")
