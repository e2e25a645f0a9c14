"""Which torch device to run on: the user's choice checked up front, or the best one present."""

from __future__ import annotations

import torch


def resolve_device(requested: str | None) -> str:
    """``None`` -> "cuda" when a CUDA GPU is usable, else "cpu"; a named device is checked.

    Raises ValueError with one line for a name torch does not know or a device this machine lacks,
    so a typo or a missing GPU is a clear input error, not a driver traceback mid-load.
    """
    if requested is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(requested)
    except RuntimeError:
        raise ValueError(f"unknown device {requested!r}; use cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {requested!r}: no usable CUDA GPU on this machine (use --device cpu)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device {requested!r}: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {requested!r}: MPS is not available on this machine (use --device cpu)")
    return requested
