"""Running a stage command in a child process: plain Python, or ``torchrun`` with several processes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

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


def kill_after_checkpoint(args: list[str], checkpoint: Path, model: Path) -> int:
    """Start ``python -m stages ARGS``, SIGKILL it once ``checkpoint`` exists, and return the step
    the checkpoint holds; asserts the run was killed before it wrote ``model``."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "stages", *args]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not checkpoint.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not model.exists(), "training finished before it could be killed"
    return int(torch.load(checkpoint, weights_only=False)["step"])
