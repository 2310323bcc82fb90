"""Model cards: what each model file is and the figures it reached, as Markdown for the page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _flatten(figures: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """``{"val": {"lve_mm": 1.07}}`` -> ``{"val/lve_mm": 1.07}`` (numbers only)."""
    flat: dict[str, float] = {}
    for key, value in figures.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}/"))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            flat[f"{prefix}{key}"] = float(value)
    return flat


def _table(rows: list[tuple[str, str]]) -> str:
    """A two-column Markdown table; the first row is its header."""
    lines = [f"| {key} | {value} |" for key, value in rows]
    return "\n".join([lines[0], "|---|---|", *lines[1:]])


def _figures(figures: dict[str, float]) -> list[tuple[str, str]]:
    return [(f"`{key}`", f"{value:.4g}") for key, value in sorted(figures.items())]


def _read_figures(path: Path) -> dict[str, float]:
    return _flatten(json.loads(path.read_text())) if path.is_file() else {}


def a2ep_card(model: Path, metrics: Path) -> str:
    """The A2EP card: architecture, audio front end, speakers and held-out figures.

    The figures are the model file's own (``train_a2ep`` stores them), else ``metrics``'s.
    """
    import torch

    from gsmoothface.generate import file_digest

    info = torch.load(model, map_location="cpu", weights_only=False, mmap=True)
    cfg = info["config"]
    figures = _flatten(info.get("metrics", {})) or _read_figures(metrics)
    rows = [
        ("file", f"`{model.name}` (sha256 {file_digest(model)})"),
        (
            "decoder",
            f"{cfg.get('n_layers')} layer, d={cfg.get('d_model')}, FFN {cfg.get('ffn_dim')}, "
            f"{cfg.get('n_heads')} heads",
        ),
        ("audio front end", str(info["audio"].get("frontend", "?"))),
        ("speaker styles", ", ".join(info["speakers"]) + ", mean"),
        *_figures(figures),
    ]
    note = "" if figures else f"\n\nNo training figures: the model file and `{metrics}` have none."
    return "### A2EP (audio to expression)\n\n" + _table(rows) + note


def taft_card(model: Path, metrics: Path) -> str:
    """The TAFT card: resolution, generator size, training steps and held-out figures (``metrics``)."""
    import torch

    from gsmoothface.generate import file_digest

    state = torch.load(model, map_location="cpu", weights_only=False, mmap=True)
    cfg = state["config"]
    figures = _read_figures(metrics)
    rows = [
        ("file", f"`{model.name}` (sha256 {file_digest(model)})"),
        ("resolution", f"{state['size']} px"),
        (
            "generator",
            f"{cfg.get('base_channels')}-{cfg.get('max_channels')} channels, {cfg.get('layers')} layers",
        ),
        ("trained", f"{state.get('step', '?')} steps"),
        *_figures(figures),
    ]
    note = "" if figures else f"\n\nNo training figures: `{metrics}` not found."
    return "### TAFT (face translation)\n\n" + _table(rows) + note
