"""The Gradio page: speech + a reference -> a talking-face video, through the ``generate`` path.

The page is one tab per task ("Generate" now; adapting the models to a person's video will be a tab
beside it, running through the same :class:`~gsmoothface.app.jobs.Jobs` for progress and cancel).
The browser sends uploads and a clip *name*; every path the server opens is an upload Gradio stored,
or a clip of ``generate.clips_dir`` that the server listed itself.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import gradio as gr

from gsmoothface.app.cards import a2ep_card, taft_card
from gsmoothface.app.config import AppConfig
from gsmoothface.app.jobs import JobCancelled, Jobs, run_job
from gsmoothface.config import ConfigError
from gsmoothface.errors import GsmoothfaceError
from gsmoothface.generate.inference import Inference

log = logging.getLogger(__name__)
AUTO_SPEAKER = "auto"  # the speaker choice that defers to generate.speaker / the reference's speaker


def project_clips(inference: Inference) -> dict[str, dict]:
    """The pipeline's clips that have a 3DMM fit, by name, with their ``meta.json``."""
    cfg = inference.cfg
    clips = {}
    for meta_path in sorted(Path(cfg.clips_dir).glob("*/meta.json")):
        name = meta_path.parent.name
        if (Path(cfg.fit_dir) / f"{name}.npz").is_file():
            clips[name] = json.loads(meta_path.read_text())
    return clips


def example_pair(clips: dict[str, dict]) -> tuple[str, str] | None:
    """(speech clip, face clip) of the demo: an unseen speaker's utterance on a held-out clip of a
    training speaker, as ``scripts/demo.sh`` does; any clip when the splits are missing."""
    if not clips:
        return None
    by_split = {meta.get("split"): name for name, meta in reversed(clips.items())}
    first = next(iter(clips))
    return by_split.get("test", first), by_split.get("val", first)


def _public(exc: Exception, names: dict[Path, str], root: Path) -> str:
    """The error's message with server paths replaced by what the visitor knows them as."""
    message = str(exc)
    for path, name in names.items():
        message = message.replace(str(path), name)
    return message.replace(str(root), "")


def build_page(inference: Inference, cfg: AppConfig, jobs: Jobs) -> gr.Blocks:
    """The page over a loaded :class:`Inference`; jobs and their files live under ``jobs.root``."""
    clips = project_clips(inference)
    example = example_pair(clips)
    busy = threading.Lock()  # one job computes at a time, even while a cancelled one winds down

    def generate(
        speech: str | None,
        upload: str | None,
        clip: str | None,
        speaker: str,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),
    ) -> tuple[str, str, str]:
        if not speech:
            raise gr.Error("Upload or record the speech first.", duration=None)
        if upload:
            reference, reference_name = Path(upload), Path(upload).name
        elif clip in clips:
            reference, reference_name = Path(inference.cfg.clips_dir) / clip, None
        else:
            raise gr.Error("Pick a clip, or upload a reference video or photo.", duration=None)
        speech_path = Path(speech)
        names = {speech_path: speech_path.name, reference: reference_name or clip or ""}
        job = jobs.start(request.session_hash)
        try:
            with busy:
                out, summary = run_job(
                    inference,
                    job,
                    jobs.cache(request.session_hash),
                    speech_path,
                    speech_path.name,
                    reference,
                    reference_name,
                    None if speaker == AUTO_SPEAKER else speaker,
                    cfg,
                    lambda fraction, text: progress(fraction, desc=text),
                )
        except JobCancelled:
            raise gr.Error("Cancelled.", duration=None) from None
        except (GsmoothfaceError, ConfigError) as exc:
            raise gr.Error(_public(exc, names, jobs.root), duration=None) from None
        except Exception:
            log.exception("generate failed")  # the traceback goes to the server's log only
            raise gr.Error(
                "Generation failed on an internal error; the details are in the server's log.", duration=None
            ) from None
        finally:
            job.finished = True
        status = (
            f"{summary['frames']} frames, {float(summary['duration_s']):.2f} s, "
            f"reference {summary['reference']}, speaker style {summary['speaker'] or 'mean'}"
        )
        return str(out), str(out), status

    def cancel(request: gr.Request) -> str:
        return "Cancelled." if jobs.cancel(request.session_hash) else "Nothing is running."

    def close(request: gr.Request) -> None:
        jobs.close(request.session_hash)

    speakers = [("the reference clip's own, else mean", AUTO_SPEAKER), ("mean", "mean")]
    speakers += [(name, name) for name in inference.pipe.speakers]
    clip_choices = [
        (f"{name} ({meta.get('split', '?')}, {meta.get('speaker', '?')})", name)
        for name, meta in clips.items()
    ]
    with gr.Blocks(title="gsmoothface", analytics_enabled=False, delete_cache=(3600, 3600)) as page:
        gr.Markdown(
            "# gsmoothface\nA talking-face video from speech and a reference face: A2EP predicts the "
            "expressions, MAFB blends their render into the reference frames, TAFT makes them real."
        )
        with gr.Tab("Generate"), gr.Row():
            with gr.Column():
                speech = gr.Audio(
                    sources=["upload", "microphone"], type="filepath", label="Speech", elem_id="speech"
                )
                clip = gr.Dropdown(
                    clip_choices,
                    value=example[1] if example else None,
                    label="Reference: a clip of the pipeline",
                    elem_id="clip",
                )
                upload = gr.File(
                    file_types=["video", "image"],
                    label="...or upload a reference video or photo (used instead of the clip)",
                    elem_id="reference",
                )
                speaker = gr.Dropdown(speakers, value=AUTO_SPEAKER, label="Speaker style (A2EP)")
                with gr.Row():
                    run = gr.Button("Generate", variant="primary", elem_id="generate")
                    stop = gr.Button("Cancel", elem_id="cancel")
                if example is not None:
                    try_example = gr.Button(
                        f"Example: {example[0]}'s speech on {example[1]}", size="sm", elem_id="example"
                    )
            with gr.Column():
                video = gr.Video(label="Result", interactive=False, elem_id="result")
                download = gr.File(label="Download (mp4, H.264 + AAC)", interactive=False, elem_id="download")
                status = gr.Markdown(elem_id="status")
        with gr.Accordion("Models", open=True), gr.Row():
            gr.Markdown(a2ep_card(inference.cfg.a2ep_model, cfg.a2ep_metrics))
            gr.Markdown(taft_card(inference.cfg.taft_model, cfg.taft_metrics))
        inputs, outputs = [speech, upload, clip, speaker], [video, download, status]
        runs = [run.click(generate, inputs, outputs, api_visibility="private")]
        if example is not None:
            speech_clip, face_clip = example
            example_speech = str(Path(inference.cfg.clips_dir) / speech_clip / "audio.wav")
            filled = try_example.click(
                lambda: (example_speech, None, face_clip), None, [speech, upload, clip], queue=False
            )
            runs.append(filled.then(generate, inputs, outputs, api_visibility="private"))
        stop.click(cancel, None, status, cancels=runs, queue=False, api_visibility="private")
        page.unload(close)
    return page
