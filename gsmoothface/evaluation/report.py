"""Evaluation report writers: ``metrics.json`` (DVC metrics), a per-clip CSV, and DVC plot data."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gsmoothface.atomic import atomic_path, write_json

# per-clip columns -> (group, metric) of the summary
SUMMARY_KEYS: dict[str, tuple[str, str]] = {
    "psnr_generated": ("generated", "psnr"),
    "ssim_generated": ("generated", "ssim"),
    "cpbd_generated": ("generated", "cpbd"),
    "lmd_generated": ("generated", "lmd"),
    "psnr_face_generated": ("generated", "psnr_face"),
    "psnr_jaw_generated": ("generated", "psnr_jaw"),
    "psnr_reference_copy": ("reference_copy", "psnr"),
    "psnr_face_reference_copy": ("reference_copy", "psnr_face"),
    "psnr_jaw_reference_copy": ("reference_copy", "psnr_jaw"),
    "ssim_reference_copy": ("reference_copy", "ssim"),
    "lmd_reference_copy": ("reference_copy", "lmd"),
    "psnr_blended": ("blended", "psnr"),
    "ssim_blended": ("blended", "ssim"),
    "cpbd_truth": ("truth", "cpbd"),
    "lmd_fit": ("fit", "lmd"),
    "lve_mm_a2ep": ("a2ep", "lve_mm"),
    "exp_error_a2ep": ("a2ep", "exp_error"),
    "jaw_open_pearson": ("a2ep", "jaw_open_pearson"),
    "lve_mm_speaker_mean": ("speaker_mean", "lve_mm"),
    "exp_error_speaker_mean": ("speaker_mean", "exp_error"),
    "lse_c": ("syncnet", "lse_c"),
    "lse_d": ("syncnet", "lse_d"),
}
PLOT_COLUMNS = (
    "clip",
    "psnr_generated",
    "psnr_reference_copy",
    "ssim_generated",
    "lmd_generated",
    "lmd_reference_copy",
    "lve_mm_a2ep",
    "lve_mm_speaker_mean",
)


def _mean(values: Sequence[Any]) -> float | None:
    """Mean of the finite numbers among ``values``; None when there are none."""
    nums = [float(v) for v in values if isinstance(v, int | float) and math.isfinite(float(v))]
    return float(np.mean(nums)) if nums else None


def summarize(rows: list[dict[str, Any]], syncnet_reason: str | None) -> dict[str, Any]:
    """Clip-averaged metrics grouped as generated / baselines / A2EP / SyncNet, with baseline checks.

    Parameters
    ----------
    rows: one dict per clip (see ``Evaluator.evaluate_clip``).
    syncnet_reason: why LSE-C/LSE-D were not computed (None when they were).
    """
    summary: dict[str, Any] = {"n_clips": len(rows), "n_frames": int(sum(r["frames"] for r in rows))}
    for column, (group, metric) in SUMMARY_KEYS.items():
        if any(column in r for r in rows):
            summary.setdefault(group, {})[metric] = _mean([r.get(column) for r in rows])
    sync = summary.setdefault("syncnet", {"lse_c": None, "lse_d": None})
    sync["computed"] = syncnet_reason is None
    sync["reason"] = syncnet_reason

    def beats(a: float | None, b: float | None, lower_is_better: bool) -> bool | None:
        if a is None or b is None:
            return None
        return a < b if lower_is_better else a > b

    gen, copy = summary.get("generated", {}), summary.get("reference_copy", {})
    a2ep, mean = summary.get("a2ep", {}), summary.get("speaker_mean", {})
    summary["beats_baselines"] = {
        "psnr_vs_reference_copy": beats(gen.get("psnr"), copy.get("psnr"), False),
        "lmd_vs_reference_copy": beats(gen.get("lmd"), copy.get("lmd"), True),
        "lve_vs_speaker_mean": beats(a2ep.get("lve_mm"), mean.get("lve_mm"), True),
    }
    return summary


def _csv_text(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
    return buffer.getvalue()


def write_csv(path: Path, rows: list[dict[str, Any]], columns: Sequence[str] | None = None) -> None:
    """Rows as CSV (atomically); columns default to every key, in first-seen order; None -> empty."""
    if columns is None:
        columns = list(dict.fromkeys(k for r in rows for k in r))
    with atomic_path(path) as tmp:
        tmp.write_text(_csv_text(rows, columns))


def write_report(
    out_dir: Path,
    rows: list[dict[str, Any]],
    jaw: dict[str, dict[str, np.ndarray]],
    syncnet_reason: str | None,
    config: dict[str, Any],
) -> dict[str, Any]:
    """Write ``metrics.json``, ``per_clip.csv``, ``plots/per_clip.csv``, ``plots/jaw_open/<clip>.csv``
    and ``config.json`` under ``out_dir``; returns the summary."""
    summary = summarize(rows, syncnet_reason)
    write_json(out_dir / "metrics.json", summary)
    write_csv(out_dir / "per_clip.csv", rows)
    write_csv(out_dir / "plots" / "per_clip.csv", rows, PLOT_COLUMNS)
    for clip, series in jaw.items():
        frames = [
            {"frame": t, "predicted": float(p), "true": float(q)}
            for t, (p, q) in enumerate(zip(series["predicted"], series["true"], strict=True))
        ]
        write_csv(out_dir / "plots" / "jaw_open" / f"{clip}.csv", frames, ("frame", "predicted", "true"))
    write_json(out_dir / "config.json", config)
    return summary
