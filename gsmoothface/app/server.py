"""Serving the page: offline Gradio settings, the queue, upload limits, and cleaning up on exit."""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import tempfile
from pathlib import Path

from gsmoothface.app.config import AppConfig

LOOPBACK = "127.0.0.1"


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # Gradio closes the server on it, then `serve` removes the files


def serve(params: Path, cfg: AppConfig, host: str = LOOPBACK, port: int = 7860) -> None:
    """Load the models of ``params``, serve the page on ``host:port`` until interrupted, then remove
    every upload and output of the run."""
    root = Path(tempfile.mkdtemp(prefix="gsmoothface-app-"))
    signal.signal(signal.SIGTERM, _interrupt)  # a service manager's stop cleans up like Ctrl-C
    # Before Gradio is imported: no usage reports or update checks; uploads live under `root`.
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ["GRADIO_TEMP_DIR"] = str(root / "uploads")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import gradio as gr

        from gsmoothface.app.jobs import Jobs
        from gsmoothface.app.page import build_page
        from gsmoothface.generate.inference import Inference

        inference = Inference.open(params)
        page = build_page(inference, cfg, Jobs(root / "jobs"))
        page.queue(default_concurrency_limit=1, max_size=cfg.max_queue)
        # system fonts: the default theme would have every visitor's browser fetch web fonts
        theme = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
        page.launch(
            server_name=host,
            server_port=port,
            max_file_size=f"{cfg.max_upload_mb}mb",
            allowed_paths=[str(Path(inference.cfg.clips_dir).resolve())],  # the example's speech
            theme=theme,
            footer_links=[],
            ssr_mode=False,
            mcp_server=False,
            pwa=False,
            enable_monitoring=False,
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
