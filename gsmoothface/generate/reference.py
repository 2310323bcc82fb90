"""References for generation: a sliced clip with its 3DMM fit, or a raw video sliced and fitted once.

A raw reference video goes through the pipeline's own ``slice`` and ``fit_3dmm`` code
(:mod:`gsmoothface.preparation`) with the configs of those sections, into
``<cache_dir>/references/<content hash>/``, so a second run on the same video (under any name)
reuses the result. Frames are decoded once into memory maps keyed by content hash, for random
access (ping-pong) at flat memory.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gsmoothface.atomic import atomic_dir, atomic_path, write_json
from gsmoothface.digest import file_digest
from gsmoothface.errors import InputError
from gsmoothface.generate.config import GenerateConfig
from gsmoothface.preparation import PreparationConfig, clip_fitter, link_raw_video

STILL_FRAME = "still.mp4"  # a photo reference's frame, as its clip was cut from it, in its cache folder


@dataclasses.dataclass(frozen=True)
class Source:
    """The full-frame video a clip was cut from, for pasting the face back."""

    video: Path
    start_s: float  # clip start in the source, seconds
    crop_box: tuple[int, int, int]  # x0, y0, side of the clip in source pixels


@dataclasses.dataclass(frozen=True)
class Reference:
    """A reference clip: its frames (a square face crop) and its per-frame 3DMM fit."""

    name: str
    video: Path  # the clip's video.mp4
    coeff: np.ndarray  # (T, 257) float32
    trans_params: np.ndarray  # (T, 5) float64, align_img parameters of the clip frames
    size: int  # clip frame side, px
    speaker: str | None  # the clip's speaker (meta.json), if known
    source: Source | None = None  # set for a raw reference video: output in its full frames
    valid: np.ndarray | None = None  # (T,) bool, False where the fit found no face; None: all found

    @property
    def n_frames(self) -> int:
        return len(self.coeff)

    def face_found(self, index: np.ndarray) -> np.ndarray:
        """(n,) bool of the frames ``index``: whether the fit saw a face there (else its coefficients
        are interpolated, and the frame is shown as it is)."""
        return np.ones(len(index), bool) if self.valid is None else self.valid[index]


def _clip_dir(path: Path, cfg: GenerateConfig) -> Path | None:
    """The clip folder that ``path`` names (folder, its video.mp4, or a clip name), else None."""
    for candidate in (path, path.parent if path.name == "video.mp4" else None, cfg.clips_dir / path.name):
        if candidate is not None and (candidate / "meta.json").is_file():
            return candidate
    return None


def open_reference(path: Path, cfg: GenerateConfig, fit: Path | None = None) -> Reference:
    """Open a sliced clip given as its folder, its ``video.mp4`` or its name under ``cfg.clips_dir``.

    The coefficients come from ``fit``, by default ``<fit_dir>/<clip>.npz`` (the ``fit_3dmm`` output).

    Raises
    ------
    InputError: no such clip, or its fit does not match its frames.
    """
    clip_dir = _clip_dir(Path(path), cfg)
    if clip_dir is None:
        raise InputError(f"{path}: neither a clip folder (with meta.json), its video.mp4, nor a video file")
    meta = json.loads((clip_dir / "meta.json").read_text())
    name = str(meta.get("clip", clip_dir.name))
    fit_path = Path(fit) if fit is not None else cfg.fit_dir / f"{name}.npz"
    if not fit_path.is_file():
        raise InputError(f"{fit_path}: no 3DMM fit of clip {name}; run `gsmoothface fit-3dmm` first")
    with np.load(fit_path) as fit:
        coeff = fit["coeff"].astype(np.float32)
        trans_params = fit["trans_params"].astype(np.float64)
        valid = fit["valid"].astype(bool) if "valid" in fit else None
    if len(coeff) != int(meta["frames"]):
        raise InputError(f"{fit_path}: {len(coeff)} fitted frames but the clip has {meta['frames']}")
    return Reference(
        name=name,
        video=clip_dir / "video.mp4",
        coeff=coeff,
        trans_params=trans_params,
        size=int(meta["size"]),
        speaker=meta.get("speaker"),
        valid=valid,
    )


def prepare_reference(
    video: Path,
    cfg: GenerateConfig,
    prep: PreparationConfig,
    device: torch.device | str = "cpu",
    fps: int = 25,
    sample_rate: int = 16000,
    log: Callable[[str], None] = print,
) -> Reference:
    """Slice and fit a raw reference video or photo (once per content), and open its first clip.

    ``prep``'s slice and fit configs apply; a fit whose landmark source is ``sidecar`` uses dlib's
    detector when the video brings no landmark sidecar. A still image is a one-frame reference, held
    for the whole audio.

    Raises
    ------
    InputError: the file cannot be read, has no picture, or no face (from ``slice``/``fit_3dmm``);
        the message names ``video``, never the cache's working copy.
    """
    from gsmoothface.generate.still import is_image
    from gsmoothface.media import probe

    video = Path(video)
    if not video.is_file():
        raise InputError(f"{video}: reference not found")
    info = probe(video)  # a corrupt file fails here, under the user's name
    if not info.has_video:
        raise InputError(f"{video}: no picture (an audio file?); give a video or a photo of a face")
    still = is_image(video) or (info.n_frames == 1 and not info.has_audio)
    work = cfg.cache_dir / "references" / file_digest(video)
    if not (work / "reference.json").is_file():
        log(f"generate: slicing and fitting {video} once (cached in {work})")
        with atomic_dir(work) as tmp:
            try:
                _slice_and_fit(video, still, tmp, prep, device, fps, sample_rate, log)
            except InputError as exc:  # name the user's file, not the working copy in ``tmp``
                message = re.sub(re.escape(str(tmp)) + r"/[^\s:]*", lambda _: str(video), str(exc))
                if str(video) not in message:  # a slice failure names the working copy's file name
                    message = f"{video}: {message}"
                raise InputError(message) from None
    info_json = json.loads((work / "reference.json").read_text())
    clip_dir = work / "clips" / info_json["clip"]
    reference = open_reference(clip_dir, dataclasses.replace(cfg, fit_dir=work / "3dmm"))
    meta = json.loads((clip_dir / "meta.json").read_text())
    full = work / STILL_FRAME if (work / STILL_FRAME).is_file() else video
    source = Source(full, float(meta["start_s"]), tuple(int(v) for v in meta["crop_box"]))  # type: ignore[arg-type]
    return dataclasses.replace(reference, source=source)


def _slice_and_fit(
    video: Path,
    still: bool,
    tmp: Path,
    prep: PreparationConfig,
    device: torch.device | str,
    fps: int,
    sample_rate: int,
    log: Callable[[str], None],
) -> None:
    """Slice ``video`` into ``tmp/clips``, fit its first clip into ``tmp/3dmm``, write reference.json."""
    from gsmoothface.generate.still import write_still_clip
    from gsmoothface.slicing import slice_folder

    raw = tmp / "raw"
    raw.mkdir()
    slice_cfg = dataclasses.replace(prep.slice, input_dir=raw, output_dir=tmp / "clips")
    if still:  # one frame with one frame of silence: a clip that `slice` and `fit_3dmm` take as it is
        write_still_clip(video, raw / f"{video.stem}.mp4", fps, sample_rate)
        slice_cfg = dataclasses.replace(slice_cfg, min_seconds=1 / fps, detect_fps=fps)
    else:  # with its sidecars (a photo's would not match its shrunk frame)
        link_raw_video(video, raw, video.stem)
    report = slice_folder(slice_cfg, fps, sample_rate, log=log)
    if not report.clips:
        raise InputError("; ".join(report.failures) or f"{video}: no clip could be cut (too short)")
    clip = report.clips[0]  # a video longer than slice.max_seconds: its first part
    clip_fitter(prep, device)(clip.path, tmp / "3dmm" / f"{clip.name}.npz")
    if still:  # the output's full frame: the photo as the clip was cut from it (upright, shrunk)
        (raw / f"{video.stem}.mp4").rename(tmp / STILL_FRAME)
    shutil.rmtree(raw)
    write_json(tmp / "reference.json", {"clip": clip.name, "video": str(video)})


def resolve_reference(
    path: Path,
    cfg: GenerateConfig,
    prep: PreparationConfig,
    device: torch.device | str = "cpu",
    fps: int = 25,
    sample_rate: int = 16000,
    **kwargs: Any,
) -> Reference:
    """A clip (folder, its video.mp4, or its name) as it is; any other video file, or a still photo
    (a one-frame clip), through :func:`prepare_reference`."""
    path = Path(path)
    if _clip_dir(path, cfg) is not None:
        return open_reference(path, cfg)
    if path.is_file():
        return prepare_reference(path, cfg, prep, device, fps=fps, sample_rate=sample_rate, **kwargs)
    raise InputError(f"{path}: no such clip or video (clips are looked up in {cfg.clips_dir})")


def _memmap_frames(path: Path, chunks: Any, n_frames: int, height: int, width: int, name: Path) -> np.ndarray:
    """Decode ``chunks`` into ``path`` (.npy, atomically) unless it exists; open it read-only."""
    if not path.is_file():
        with atomic_path(path) as tmp:
            store = np.lib.format.open_memmap(
                tmp, mode="w+", dtype=np.uint8, shape=(n_frames, height, width, 3)
            )
            start = 0
            for chunk in chunks:
                take = min(len(chunk), n_frames - start)
                store[start : start + take] = chunk[:take]
                start += take
                if start == n_frames:
                    break
            if start < n_frames:
                if start == 0:
                    raise InputError(f"{name}: no frames decoded")
                store[start:] = store[start - 1]  # a short decode: hold the last frame, as `slice` does
            store.flush()
            del store
    return np.load(path, mmap_mode="r")


def frame_store(video: Path, cache_dir: Path, n_frames: int) -> np.ndarray:
    """A clip's frames as a read-only memory map (T,H,W,3) uint8, decoded once per content hash."""
    from gsmoothface.media import iter_frames, probe

    info = probe(video)
    path = cache_dir / "frames" / f"{file_digest(video)}_{info.width}x{info.height}.npy"
    return _memmap_frames(path, iter_frames(video, chunk=64), n_frames, info.height, info.width, video)


def source_store(source: Source, cache_dir: Path, n_frames: int, fps: int = 25) -> np.ndarray:
    """The source's full frames of a clip's time span at ``fps``, as a read-only memory map."""
    from gsmoothface.media import iter_frames, probe

    info = probe(source.video)
    key = f"{file_digest(source.video)}_{source.start_s:.6f}_{n_frames}_{fps}_{info.width}x{info.height}"
    chunks = iter_frames(source.video, chunk=16, fps=fps, start_s=source.start_s, duration_s=n_frames / fps)
    return _memmap_frames(
        cache_dir / "frames" / f"{key}.npy", chunks, n_frames, info.height, info.width, source.video
    )
