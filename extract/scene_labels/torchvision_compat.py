"""Make `import torchvision` work on a CPU-only torch, where the registry only has the CUDA wheel.

torchvision 0.28.0 from PyPI registers fake kernels for its C++ ops at import time; with the CPU
build of torch those ops were never defined, so the import dies with `operator torchvision::nms
does not exist`, and with it `import open_clip`, `import timm` and transformers' CLIP classes.
Defining the two op schemas first lets the import finish (ENVIRONMENT.md). The ops themselves
still cannot run; nothing in stylemotion calls them. On a machine where torchvision's ops are
registered (any CUDA install) this does nothing.
"""

from __future__ import annotations

import logging
import sys

logger = logging.getLogger(__name__)

_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_library = None  # keeps the registration alive for the life of the process


def torchvision_ops_registered() -> bool:
    import torch

    return hasattr(torch.ops.torchvision, "nms")


def ensure_torchvision_importable() -> bool:
    """Define torchvision's missing op schemas if needed; True when it had to."""
    global _library
    if "torchvision" in sys.modules or torchvision_ops_registered():
        return False
    import torch

    _library = torch.library.Library("torchvision", "FRAGMENT")
    for schema in _SCHEMAS:
        _library.define(schema)
    logger.info("defined torchvision op schemas missing from this CPU torch build")
    return True
