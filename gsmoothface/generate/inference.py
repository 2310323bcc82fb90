"""The ``generate`` path as one object: load the models once, then turn speech + a reference into mp4s.

``gsmoothface generate`` runs it once; ``gsmoothface app`` keeps one open and runs it per job, so the
page and the command share every step (audio checks, reference slicing and fitting, speaker style,
MAFB + TAFT, encoding).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gsmoothface.audio import AudioConfig
from gsmoothface.config import BaseConfig
from gsmoothface.generate.config import GenerateConfig
from gsmoothface.generate.models import Pipeline
from gsmoothface.generate.reference import Reference
from gsmoothface.preparation import PreparationConfig
from gsmoothface.timing import StepTimes

MAX_THREADS = 2  # inference is latency-bound: more threads than this only contend on a small CPU


@dataclasses.dataclass(frozen=True)
class Inference:
    """Loaded models and the ``params.yaml`` sections of the inference path."""

    params: dict[str, Any]
    base: BaseConfig
    cfg: GenerateConfig
    audio_cfg: AudioConfig
    prep: PreparationConfig  # slicing and fitting a raw reference video
    device: torch.device
    pipe: Pipeline

    @classmethod
    def open(cls, params_path: Path, log: Callable[[str], None] | None = None) -> Inference:
        """Read ``params_path``, validate every section the inference path reads
        (:data:`~gsmoothface.sections.INFERENCE_SECTIONS`) and load A2EP, MAFB and TAFT (fails fast
        on missing, corrupt or truncated models).

        ``log`` receives notes on the models, such as the audio front end's language limit.

        Raises
        ------
        ConfigError: a params value is wrong (one line naming the key).
        MissingAssetError: a model file is missing or unreadable.
        """
        from gsmoothface.config import read_params
        from gsmoothface.device import resolve_device
        from gsmoothface.generate.models import PipelineConfig, load_pipeline
        from gsmoothface.sections import INFERENCE_SECTIONS, load_sections

        raw = read_params(params_path)
        configs = load_sections(raw, INFERENCE_SECTIONS)  # every section checked before any model loads
        base, cfg = configs["base"], configs["generate"]
        device = resolve_device(base.device)
        torch.set_num_threads(min(torch.get_num_threads(), MAX_THREADS))
        pipe_cfg = PipelineConfig(
            blend=configs["blend"],
            audio=configs["audio"],
            face_model=configs["face_model"],
            render=configs["render"],
        )
        pipe = load_pipeline(
            pipe_cfg, cfg.a2ep_model, cfg.taft_model, device, log=log, precision=cfg.precision
        )
        prep = PreparationConfig(
            slice=configs["slice"],
            fit=configs["fit_3dmm"],
            face_model=configs["face_model"],
            render=configs["render"],
        )
        return cls(raw, base, cfg, configs["audio"], prep, device, pipe)

    @property
    def people_dir(self) -> Path:
        """Where person models are (``adapt.out_dir``)."""
        return Path(self.params.get("adapt", {}).get("out_dir", "models/people"))

    def with_person(self, name: str) -> Inference:
        """The same A2EP and MAFB with person ``name``'s TAFT (``<adapt.out_dir>/<name>/taft.pt``),
        and A2EP's predictions mapped to the person's own speaking style when the person model
        keeps its videos' audio (:mod:`gsmoothface.people.style`).

        Raises
        ------
        InputError: no such person (the message lists the known ones), or it was adapted at another
            resolution than ``blend.size``.
        """
        from gsmoothface.errors import InputError
        from gsmoothface.generate.models import load_translator
        from gsmoothface.people.card import person_model
        from gsmoothface.people.style import person_style, styled

        path = person_model(self.people_dir, name)
        translator, size = load_translator(path, self.device, self.cfg.precision)
        if size != self.pipe.size:
            raise InputError(f"{path} was adapted at {size} px but blend.size is {self.pipe.size}")
        pipe = dataclasses.replace(self.pipe, translator=translator, taft_model=path)
        style = person_style(self.pipe.predictor, path.parent, self.base.sample_rate)
        if style is not None:
            pipe = dataclasses.replace(pipe, predictor=styled(pipe.predictor, style), person_style=name)
        return dataclasses.replace(self, pipe=pipe)

    def person_for(self, video: Path) -> str | None:
        """The person adapted on the raw video ``video`` itself (same content), if any."""
        from gsmoothface.digest import file_digest
        from gsmoothface.people.card import person_for_video

        return person_for_video(self.people_dir, file_digest(video)) if Path(video).is_file() else None

    def with_cache(self, cache_dir: Path) -> Inference:
        """The same models, with decoded frames and raw-video fits kept under ``cache_dir``."""
        return dataclasses.replace(self, cfg=dataclasses.replace(self.cfg, cache_dir=Path(cache_dir)))

    @staticmethod
    def check_output(out: Path) -> Path:
        """Return ``out`` when its folder exists and can be written: call it before any work.

        Raises
        ------
        InputError: the folder does not exist, is not a folder, or cannot be written.
        """
        from gsmoothface.generate.video import check_output

        return check_output(out)

    def read_audio(self, path: Path, name: str | None = None) -> np.ndarray:
        """Decode any media file's speech to mono (S,) float32 at ``base.sample_rate``.

        Raises
        ------
        InputError: not decodable, no audio stream, too short or silent (named ``name`` or its path).
        """
        from gsmoothface.audio import check_audio
        from gsmoothface.media import load_audio

        wave = load_audio(path, self.base.sample_rate)  # ffmpeg: any container, codec, rate and layout
        check_audio(
            wave,
            self.base.sample_rate,
            self.audio_cfg.min_duration_s,
            self.audio_cfg.silence_peak,
            name or str(path),
        )
        return wave

    def reference(self, path: Path, log: Callable[[str], None] = print) -> Reference:
        """A clip as it is; a raw video (or still photo) sliced and fitted once, cached by content."""
        from gsmoothface.generate.reference import resolve_reference

        return resolve_reference(
            path,
            self.cfg,
            self.prep,
            self.device,
            fps=self.base.fps,
            sample_rate=self.base.sample_rate,
            log=log,
        )

    def speaker(self, requested: str | None, reference: Reference | None = None) -> str | None:
        """The A2EP style: ``requested``, else ``generate.speaker``, else the reference's own speaker.

        Without ``reference`` it only checks the request (an unknown speaker fails before any slicing).

        Raises
        ------
        InputError: the speaker is not one the A2EP model was trained on.
        """
        from gsmoothface.generate.models import resolve_speaker

        chosen = requested if requested is not None else self.cfg.speaker
        return resolve_speaker(chosen, None if reference is None else reference.speaker, self.pipe.speakers)

    def generate(
        self,
        wave: np.ndarray,
        reference: Reference,
        out: Path,
        speaker: str | None,
        on_frames: Callable[[int, int], None] | None = None,
        times: StepTimes | None = None,
    ) -> dict[str, object]:
        """Write the talking-face mp4 of ``wave`` on ``reference`` to ``out``; see
        :func:`~gsmoothface.generate.video.generate_video`.

        Raises
        ------
        InputError: ``out``'s folder is missing or cannot be written (see :meth:`check_output`).
        """
        from gsmoothface.generate.video import generate_video

        self.check_output(out)
        return generate_video(
            wave,
            reference,
            self.pipe.predictor,
            self.pipe.blender,
            self.pipe.translator,
            out,
            self.cfg,
            self.pipe.size,
            speaker=speaker,
            sample_rate=self.base.sample_rate,
            fps=self.base.fps,
            progress_every=self.base.progress_every,
            on_frames=on_frames,
            times=times,
        )
