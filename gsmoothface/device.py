"""Choose the torch device a stage runs on."""

from __future__ import annotations

import torch

from gsmoothface.config import ConfigError


def require_cuda(key: str) -> torch.device:
    """The current CUDA device; no usable GPU is one clear error naming the params key (``base.device``,
    ``render.backend``) that asked for CUDA."""
    if not torch.cuda.is_available():
        section, name = key.split(".")
        raise ConfigError(
            f"key '{name}' in params section '{section}' is 'cuda' but no CUDA GPU is available; "
            "use 'auto' or 'cpu'"
        )
    return torch.device("cuda", torch.cuda.current_device())


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda":
        return require_cuda("base.device")
    return torch.device(name)
