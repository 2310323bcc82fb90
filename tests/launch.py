"""Running a stage command in a child process: plain Python, or ``torchrun`` with several processes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TORCHRUN = shutil.which("torchrun", path=str(Path(sys.executable).parent))
needs_torchrun = pytest.mark.skipif(TORCHRUN is None, reason="no torchrun next to this Python")


def torchrun(nproc: int) -> list[str]:
    """The launcher of ``nproc`` local processes (gloo on CPU)."""
    return [str(TORCHRUN), "--standalone", "--nproc_per_node", str(nproc)]


def run_stage(args: list[str], launcher: list[str] | None = None) -> str:
    """Run ``python -m stages ARGS`` under ``launcher`` (default: this Python), one torch thread per
    process; asserts success and returns the combined output."""
    result = subprocess.run(
        [*(launcher or [sys.executable]), "-m", "stages", *args],
        cwd=ROOT,
        env=dict(os.environ, OMP_NUM_THREADS="1", DVC_NO_ANALYTICS="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    return result.stdout
