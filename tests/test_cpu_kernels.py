"""``base.cpu_kernels``: a stage's numbers depend on its params, not on the CPU's vector kernels."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
# A stage's prologue, then a rendered face: ATen's vector kernels round its pixels' low bits.
PROBE = """
import sys
from pathlib import Path
import numpy as np, torch
from stages.common import open_stage
open_stage(Path(sys.argv[1]), ("base",))
from gsmoothface.face_model import FaceModelConfig, load_face_model
from gsmoothface.synth.face_render import FaceLayer
torch.manual_seed(0)
model = load_face_model(FaceModelConfig())
layer = FaceLayer(model, 128, "cpu")
coeff = torch.zeros(2, 257)
coeff[:, :80], coeff[:, 80:144] = 0.5 * torch.randn(2, 80), 0.5 * torch.randn(2, 64)
detail = np.random.default_rng(0).uniform(-0.5, 0.5, (64, 64)).astype(np.float32)
image, _ = layer.render(coeff, layer.window(coeff), detail, 0.3, 0.2)
np.save(sys.argv[2], np.asarray(image))
print(torch.backends.cpu.get_cpu_capability())
"""


def _run(tmp_path: Path, kernels: str, environment: str) -> tuple[str, np.ndarray]:
    params = tmp_path / f"{kernels}.yaml"
    params.write_text(f"base: {{cpu_kernels: {kernels}}}\n")
    out = tmp_path / f"{kernels}-{environment}.npy"
    env = {k: v for k, v in os.environ.items() if k not in ("MKL_CBWR", "ONEDNN_MAX_CPU_ISA")}
    env["ATEN_CPU_CAPABILITY"] = environment  # what the user's shell happens to say
    done = subprocess.run(
        [sys.executable, "-P", "-c", PROBE, str(params), str(out)],
        cwd=REPO,
        env={**env, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip(), np.load(out)


def test_pinned_kernels_give_the_same_pixels_whatever_the_environment(tmp_path) -> None:
    level, pinned = _run(tmp_path, "avx2", "avx2")
    assert level == "AVX2"
    level, overridden = _run(tmp_path, "avx2", "default")  # the stage overrides the shell
    assert level == "AVX2" and overridden.tobytes() == pinned.tobytes()
    level, native = _run(tmp_path, "native", "default")  # native leaves the choice to the shell
    assert level == "DEFAULT"
    assert native.tobytes() != pinned.tobytes()  # other kernels, other low bits: what the pin removes
    assert np.abs(native - pinned).max() < 1e-4
