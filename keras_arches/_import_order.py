"""Loads Triton before TensorFlow where both are installed.

TensorFlow 2.21 and Triton (which torch 2.x installs, and torchvision and timm import through
``torch._dynamo``) each bundle their own LLVM. Triton loaded after TensorFlow crashes the process:
``import keras_arches; import torchvision`` ends in a segmentation fault. Loaded the other way
round, both work, so the package imports this module before anything imports TensorFlow. It
does nothing where Triton is absent, already imported, or TensorFlow is already loaded (then the
crash is TensorFlow's and Triton's: import torchvision before TensorFlow).
"""

import importlib.util
import sys

if "tensorflow" not in sys.modules and "triton" not in sys.modules:
    try:
        if importlib.util.find_spec("triton") is not None:
            import triton  # noqa: F401
    except ImportError:  # a broken Triton install: nothing to protect
        pass
