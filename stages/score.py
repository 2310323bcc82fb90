"""``gsmoothface score``: a generated talking-head video compared with the true video of the scene."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stages.common import stage_errors

SECTIONS: tuple[str, ...] = ()  # reads no params

app = typer.Typer()


@app.command()
def score(
    true_video: Annotated[Path, typer.Argument(help="the true video")],
    generated_video: Annotated[Path, typer.Argument(help="the generated video: same size and framing")],
    start_s: Annotated[
        float, typer.Option(help="the true video's time (s) that matches the generated video's first frame")
    ] = 0.0,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="also write the scores to this JSON file")
    ] = None,
    max_frames: Annotated[int | None, typer.Option(help="compare at most this many frames")] = None,
) -> None:
    """Face-box PSNR/SSIM, jaw-band PSNR, mouth LMD and mouth-opening correlation, CPBD, at 25 fps
    over the frames both videos have (regions from dlib's landmarks on the true frames)."""
    with stage_errors():
        from gsmoothface.atomic import write_json
        from gsmoothface.evaluation.score import format_score, score_videos

        result = score_videos(true_video, generated_video, start_s=start_s, max_frames=max_frames)
        print(format_score(result))
        if json_out is not None:
            write_json(json_out, result)
            print(f"score: wrote {json_out}")
