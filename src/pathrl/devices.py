"""Where models run: one resolver for every model pathrl trains or serves (the routers and the
generative LLMs). "auto" takes CUDA, then Apple's MPS, else the CPU."""

from __future__ import annotations

import torch
from torch import nn

from pathrl.errors import PathrlError

DEVICE_HELP = "auto (cuda, then mps, else cpu), cpu, cuda, cuda:N or mps"


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)  # absent from some builds
    return mps is not None and mps.is_available()


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """`None` or "auto": CUDA, then Apple's MPS, else the CPU; otherwise the device named."""
    if isinstance(device, torch.device):
        return device
    if device in (None, "", "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, ValueError):
        raise PathrlError(f"unknown device '{device}' ({DEVICE_HELP})") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise PathrlError(f"device '{device}': CUDA is not available on this machine")
    if resolved.type == "cuda" and resolved.index is not None \
            and resolved.index >= torch.cuda.device_count():
        raise PathrlError(f"device '{device}': this machine has {torch.cuda.device_count()} "
                          "CUDA device(s)")
    if resolved.type == "mps" and not _mps_available():
        raise PathrlError(f"device '{device}': MPS is not available on this machine")
    return resolved


def model_device(model: nn.Module) -> torch.device:
    """The device of a model's (first) parameter."""
    return next(model.parameters()).device
