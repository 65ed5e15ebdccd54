"""One device resolution for every command and the trainer: `auto` (cuda when available, else cpu), `cpu`,
`cuda`, `cuda:N` or `mps`; anything else, or a device this machine does not have, is a `ValueError` naming
the option, the value and what is allowed — before any model is built."""

from __future__ import annotations

import torch

ALLOWED = "auto, cpu, cuda, cuda:N or mps"


def resolve_device(name: str | torch.device, option: str = "--device") -> torch.device:
    """The `torch.device` that `name` means here; `option` names the setting in the error message."""
    if isinstance(name, torch.device):
        name = str(name)
    text = name.strip().lower()
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(text)
    except RuntimeError:
        raise ValueError(f"{option}={name!r} is not a device; allowed: {ALLOWED}") from None
    if device.type == "cpu":
        return device
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"{option}={name!r} but CUDA is not available on this machine; use auto or cpu")
        if device.index is not None and device.index >= count:
            raise ValueError(f"{option}={name!r} but this machine has {count} CUDA device(s): cuda:0..cuda:{count - 1}")
        return device
    if device.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError(f"{option}={name!r} but MPS is not available on this machine; use auto or cpu")
        return device
    raise ValueError(f"{option}={name!r} is not supported; allowed: {ALLOWED}")
