"""``gsmoothface app``: a local web page to generate talking faces (needs the ``app`` extra)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Annotated

import typer

from gsmoothface.sections import INFERENCE_SECTIONS
from stages.common import err, open_stage, stage_errors

# the params sections the command reads: those of the inference path it shares with `generate`
SECTIONS = INFERENCE_SECTIONS

app = typer.Typer()


@app.command(name="app")
def serve_app(
    host: Annotated[
        str, typer.Option(help="address to listen on; 0.0.0.0 opens the page to the network")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 7860,
    params: Annotated[Path, typer.Option(help="params file (the generate section names the models)")] = Path(
        "params.yaml"
    ),
    max_upload_mb: Annotated[int, typer.Option(help="largest upload accepted, MB")] = 200,
    max_speech_s: Annotated[float, typer.Option(help="longest speech accepted, seconds")] = 600.0,
) -> None:
    """Serve a page that turns speech and a reference face into a talking-face video, through the
    same code as `gsmoothface generate`; jobs run one at a time."""
    with stage_errors():
        from gsmoothface.app.config import AppConfig
        from gsmoothface.app.server import is_loopback
        from gsmoothface.errors import MissingAssetError

        cfg = AppConfig(max_upload_mb=max_upload_mb, max_speech_s=max_speech_s)
        if not is_loopback(host):
            err.print(
                f"[bold yellow]warning:[/] listening on {host}: anyone who can reach this machine can "
                "upload files and run jobs on it",
                markup=True,
            )
        open_stage(params, SECTIONS, pin_kernels=False)  # a wrong value fails here, before loading
        if importlib.util.find_spec("gradio") is None:
            raise MissingAssetError(
                "gradio is not installed: pip install -e '.[app]' (scripts/install.sh does)"
            )
        from gsmoothface.app.server import serve

        serve(params, cfg, host, port)
