"""Audio front ends: the frozen part of the A2EP audio encoder, cached per clip at 50 Hz.

GSmoothFace freezes only the CNN feature extractor of wav2vec2-base-960h and fine-tunes the rest
(feature projection, transformer). The frozen part is therefore computed once per clip here; the
embedded default replaces it with a log-mel spectrogram on the same 50 Hz grid (25 ms window,
20 ms hop), so both front ends give exactly ``1 + (S - 400) // 320`` feature frames for S samples
at 16 kHz, the length of wav2vec2's CNN output.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gsmoothface.audio.config import AudioConfig
from gsmoothface.audio.phonetic import DIM as PHONETIC_DIM
from gsmoothface.audio.phonetic import LANGUAGE_NOTE, model_dir, phonetic_features
from gsmoothface.errors import InputError, MissingAssetError

if TYPE_CHECKING:  # torch is imported only by the wav2vec2 front end: the others run without it
    import torch

FEATURE_RATE = 50  # feature frames per second (wav2vec2 CNN stride 320 samples at 16 kHz)
WINDOW_S = 0.025  # receptive field of one feature frame, seconds (400 samples at 16 kHz)

_WAV2VEC2_HOWTO = (
    "obtain facebook/wav2vec2-base-960h on a machine with internet access: "
    'python -c "from transformers import Wav2Vec2Model; '
    "Wav2Vec2Model.from_pretrained('facebook/wav2vec2-base-960h')"
    ".save_pretrained('models/wav2vec2-base-960h')\" "
    "then copy that folder here and set audio.wav2vec2_dir to it in params.yaml"
)


def hop_and_window(sample_rate: int) -> tuple[int, int]:
    """Feature hop and window in samples at ``sample_rate`` (320 and 400 at 16 kHz)."""
    return sample_rate // FEATURE_RATE, round(WINDOW_S * sample_rate)


def n_feature_frames(n_samples: int, sample_rate: int = 16000) -> int:
    """Number of 50 Hz feature frames for ``n_samples`` samples (0 when shorter than one window)."""
    hop, win = hop_and_window(sample_rate)
    return 0 if n_samples < win else 1 + (n_samples - win) // hop


def logmel_features(audio: np.ndarray, sample_rate: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Log-mel spectrogram on the wav2vec2 CNN grid.

    Parameters
    ----------
    audio: (S,) float32 mono waveform.

    Returns
    -------
    (n, n_mels) float32 natural-log mel power, n = :func:`n_feature_frames` (S).
    """
    import librosa

    hop, win = hop_and_window(sample_rate)
    mel = librosa.feature.melspectrogram(
        y=audio,
        sr=sample_rate,
        n_fft=win,
        hop_length=hop,
        win_length=win,
        center=False,
        n_mels=n_mels,
        fmin=fmin,
        fmax=fmax,
        power=2.0,
    )  # (n_mels, n)
    return np.log(mel.T + 1e-6).astype(np.float32)  # (n, n_mels)


def load_wav2vec2(folder: Path | None, device: torch.device | str = "cpu") -> Any:
    """Load a ``transformers.Wav2Vec2Model`` from a local ``save_pretrained`` folder.

    Raises
    ------
    MissingAssetError: ``folder`` is unset or holds no model (the message says how to obtain it).
    """
    if folder is None:
        raise MissingAssetError(f"audio.wav2vec2_dir is not set; {_WAV2VEC2_HOWTO}")
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise MissingAssetError(
            f"{folder / 'config.json'}: no wav2vec2 model in audio.wav2vec2_dir={folder}; {_WAV2VEC2_HOWTO}"
        )
    from transformers import Wav2Vec2Model

    try:
        model = Wav2Vec2Model.from_pretrained(folder)
    except OSError as exc:
        raise MissingAssetError(f"{folder}: cannot load wav2vec2 weights ({exc}); {_WAV2VEC2_HOWTO}") from exc
    return model.to(device).eval()


def wav2vec2_cnn_features(
    audio: np.ndarray, model: Any, sample_rate: int = 16000, chunk_s: float = 20.0
) -> np.ndarray:
    """Output of wav2vec2's frozen CNN feature extractor, computed chunk by chunk.

    Chunks cover whole feature frames, so their outputs concatenate to the full 50 Hz grid; each
    chunk is normalised to zero mean and unit variance (what ``Wav2Vec2Processor`` does for the
    960h model) and goes through the CNN alone, which keeps memory bounded for any audio length.

    Returns
    -------
    (n, C) float32, n = :func:`n_feature_frames` (S), C = ``model.config.conv_dim[-1]`` (512).
    """
    import torch

    hop, win = hop_and_window(sample_rate)
    n = n_feature_frames(audio.shape[0], sample_rate)
    per_chunk = max(1, int(chunk_s * FEATURE_RATE))
    device = next(model.parameters()).device
    out = []
    for start in range(0, n, per_chunk):
        stop = min(start + per_chunk, n)
        piece = audio[start * hop : (stop - 1) * hop + win].astype(np.float32)
        piece = (piece - piece.mean()) / np.sqrt(piece.var() + 1e-7)
        x = torch.from_numpy(piece)[None].to(device)  # (1, samples)
        with torch.no_grad():
            feats = model.feature_extractor(x)  # (1, C, stop - start)
        out.append(feats[0].T.float().cpu().numpy())
    return np.concatenate(out, axis=0).astype(np.float32)


@dataclasses.dataclass
class AudioFrontend:
    """A configured front end: ``frontend(audio (S,)) -> (n, dim)`` float32 features at 50 Hz."""

    cfg: AudioConfig
    sample_rate: int
    model: Any = None  # the wav2vec2 model for frontend 'wav2vec2'
    phonetic_dir: Path | None = None  # the acoustic model folder for frontend 'phonetic'

    @property
    def dim(self) -> int:
        """Channels per feature frame (n_mels, phones + loudness, or the wav2vec2 CNN's 512)."""
        if self.phonetic_dir is not None:
            return PHONETIC_DIM
        return self.cfg.n_mels if self.model is None else int(self.model.config.conv_dim[-1])

    def __call__(self, audio: np.ndarray, name: str = "audio", text: str | None = None) -> np.ndarray:
        """Features (n, dim) at 50 Hz of ``audio`` (S,); ``text``, when known, guides the phonetic
        front end (its words are aligned instead of recognised); the others ignore it."""
        if n_feature_frames(audio.shape[0], self.sample_rate) == 0:
            raise InputError(f"{name}: audio shorter than one {WINDOW_S * 1000:.0f} ms feature window")
        if self.model is not None:
            return wav2vec2_cnn_features(audio, self.model, self.sample_rate, self.cfg.chunk_s)
        if self.phonetic_dir is not None:
            hop, win = hop_and_window(self.sample_rate)
            n = n_feature_frames(audio.shape[0], self.sample_rate)
            return phonetic_features(audio, self.sample_rate, self.phonetic_dir, hop, win, n, text)
        # log-mel frames are independent (no centring), so chunks on the frame grid are exact
        hop, win = hop_and_window(self.sample_rate)
        n = n_feature_frames(audio.shape[0], self.sample_rate)
        per_chunk = max(1, int(self.cfg.chunk_s * FEATURE_RATE))
        return np.concatenate(
            [
                logmel_features(
                    audio[start * hop : (min(start + per_chunk, n) - 1) * hop + win],
                    self.sample_rate,
                    self.cfg.n_mels,
                    self.cfg.fmin,
                    self.cfg.fmax,
                )
                for start in range(0, n, per_chunk)
            ]
        )

    def describe(self) -> dict[str, Any]:
        """Metadata written next to cached features."""
        info: dict[str, Any] = {"frontend": self.cfg.frontend, "rate_hz": FEATURE_RATE, "dim": self.dim}
        if self.model is not None:
            info["wav2vec2_dir"] = str(self.cfg.wav2vec2_dir)
        if self.phonetic_dir is not None:
            info["phonetic_model"] = "pocketsphinx en-us (all-phone)"
            info["language"] = LANGUAGE_NOTE
        return info


def open_frontend(
    cfg: AudioConfig, sample_rate: int = 16000, device: torch.device | str = "cpu"
) -> AudioFrontend:
    """Build the front end named by ``cfg.frontend`` (loads wav2vec2 weights when needed)."""
    if sample_rate % FEATURE_RATE:
        raise InputError(
            f"sample rate {sample_rate} Hz is not a multiple of the {FEATURE_RATE} Hz feature rate"
        )
    model = load_wav2vec2(cfg.wav2vec2_dir, device) if cfg.frontend == "wav2vec2" else None
    phonetic = model_dir(cfg.phonetic_model) if cfg.frontend == "phonetic" else None
    return AudioFrontend(cfg, sample_rate, model, phonetic)


def to_frame_rate(features: np.ndarray, n_frames: int, fps: int = 25, sample_rate: int = 16000) -> np.ndarray:
    """Linearly resample 50 Hz features onto ``n_frames`` video frames.

    GSmoothFace interpolates the wav2vec2 CNN output to the frame count with
    ``F.interpolate(align_corners=True)``; here each video frame's centre time is mapped onto the
    feature grid (feature k is centred at ``k * hop + win / 2`` samples), so a window cut from a
    long clip sees the same values as the whole clip resampled at once.

    Parameters
    ----------
    features: (n, C) at 50 Hz.
    n_frames: number of output frames at ``fps``.

    Returns
    -------
    (n_frames, C) float32.
    """
    hop, win = hop_and_window(sample_rate)
    n = features.shape[0]
    centre = (np.arange(n_frames) + 0.5) / fps * sample_rate  # (T,) samples
    pos = np.clip((centre - win / 2) / hop, 0.0, n - 1)  # fractional feature index
    lo = np.minimum(np.floor(pos).astype(np.int64), max(n - 2, 0))
    hi = np.minimum(lo + 1, n - 1)
    w = (pos - lo)[:, None].astype(np.float32)
    return ((1 - w) * features[lo] + w * features[hi]).astype(np.float32)
