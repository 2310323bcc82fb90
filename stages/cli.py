"""The ``gsmoothface`` command: every stage module's Typer app combined into one.

Each ``stages/<name>.py`` holds one ``app = typer.Typer()`` with one command named after the DVC
stage (``fit_3dmm`` -> ``gsmoothface fit-3dmm``). Heavy imports live inside the commands so that
``gsmoothface --help`` stays fast.
"""

from __future__ import annotations

import importlib
import os

import typer

# torch's OpenMP threads busy-wait by default: on a small or shared CPU the spinning threads slow
# every small batched op (measured 10x on the 2-core CPU renderer). Must be set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# Stage modules, in pipeline order; each contributes its commands to the one app.
STAGE_MODULES: tuple[str, ...] = (
    "stages.convert_bfm",
    "stages.synth",
    "stages.manifest",
    "stages.slice",
    "stages.fit_3dmm",
    "stages.audio_features",
    "stages.train_a2ep",
    "stages.predict_exp",
    "stages.blend",
    "stages.train_taft",
    "stages.adapt",
    "stages.translate",
    "stages.evaluate",
    "stages.generate",
    "stages.score",
    "stages.app",
)

app = typer.Typer(
    name="gsmoothface",
    help="Audio-driven talking-face generation (GSmoothFace) as a reproducible DVC pipeline.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)

for _module in STAGE_MODULES:
    app.add_typer(importlib.import_module(_module).app)
