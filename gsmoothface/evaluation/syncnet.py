"""SyncNet audio-visual sync scores (LSE-D / LSE-C) from locally given ``syncnet_v2`` weights.

SyncNet is Chung & Zisserman, "Out of time: automated lip sync in the wild" (ACCV workshops 2016);
the scores follow the Wav2Lip evaluation recipe over joonson/syncnet_python: embeddings of every
5-frame video window and its 0.2 s of MFCCs, distances at offsets of +-``vshift`` frames,
LSE-D = the smallest mean distance, LSE-C = median minus minimum (the "AV confidence"), and the AV
offset at the minimum. :class:`SyncNet` is a plain torch module whose state-dict keys equal those of
the public ``syncnet_v2.model`` file, so that file loads as it is. Face crops are the clip frames
resized to 224 (clips are already square face crops), in BGR 0-255 as the reference pipeline feeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.fft import dct
from torch import nn

from gsmoothface.errors import MissingAssetError

SYNC_FRAMES = 5  # video frames per SyncNet window (0.2 s at 25 fps)
MFCC_PER_FRAME = 4  # 100 Hz MFCC steps per 25 fps video frame
CROP = 224  # SyncNet face-crop side, px
SYNCNET_HELP = (
    "set evaluate.syncnet_weights to a local copy of syncnet_v2.model "
    "(joonson/syncnet_python, download_model.sh)"
)


def _conv_block(conv: nn.Module, channels: int, dims: int, pool: nn.Module | None) -> list[nn.Module]:
    norm = nn.BatchNorm2d(channels) if dims == 2 else nn.BatchNorm3d(channels)
    return [conv, norm, nn.ReLU(inplace=True), *([pool] if pool is not None else [])]


def _head(embedding: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, embedding))


class SyncNet(nn.Module):
    """SyncNet v2: an MFCC (1,13,20) branch and a face-clip (3,5,224,224) branch, 1024-d each."""

    def __init__(self, embedding: int = 1024) -> None:
        super().__init__()
        c2, c3 = nn.Conv2d, nn.Conv3d
        self.netcnnaud = nn.Sequential(
            *_conv_block(c2(1, 64, 3, padding=1), 64, 2, nn.MaxPool2d(1, 1)),
            *_conv_block(c2(64, 192, 3, padding=1), 192, 2, nn.MaxPool2d(3, (1, 2))),
            *_conv_block(c2(192, 384, 3, padding=1), 384, 2, None),
            *_conv_block(c2(384, 256, 3, padding=1), 256, 2, None),
            *_conv_block(c2(256, 256, 3, padding=1), 256, 2, nn.MaxPool2d(3, 2)),
            *_conv_block(c2(256, 512, (5, 4)), 512, 2, None),
        )
        self.netfcaud = _head(embedding)
        self.netcnnlip = nn.Sequential(
            *_conv_block(c3(3, 96, (5, 7, 7), (1, 2, 2)), 96, 3, nn.MaxPool3d((1, 3, 3), (1, 2, 2))),
            *_conv_block(
                c3(96, 256, (1, 5, 5), (1, 2, 2), (0, 1, 1)),
                256,
                3,
                nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)),
            ),
            *_conv_block(c3(256, 256, (1, 3, 3), padding=(0, 1, 1)), 256, 3, None),
            *_conv_block(c3(256, 256, (1, 3, 3), padding=(0, 1, 1)), 256, 3, None),
            *_conv_block(
                c3(256, 256, (1, 3, 3), padding=(0, 1, 1)), 256, 3, nn.MaxPool3d((1, 3, 3), (1, 2, 2))
            ),
            *_conv_block(c3(256, 512, (1, 6, 6)), 512, 3, None),
        )
        self.netfclip = _head(embedding)

    def forward_aud(self, mfcc: torch.Tensor) -> torch.Tensor:
        """(B,1,13,20) MFCC windows -> (B,1024) audio embeddings."""
        return self.netfcaud(self.netcnnaud(mfcc).flatten(1))  # (B,512,1,1) -> (B,512)

    def forward_lip(self, clips: torch.Tensor) -> torch.Tensor:
        """(B,3,5,224,224) BGR 0-255 face clips -> (B,1024) video embeddings."""
        return self.netfclip(self.netcnnlip(clips).flatten(1))  # (B,512,1,1,1) -> (B,512)


def load_syncnet(path: Path | None, device: torch.device | str = "cpu") -> SyncNet:
    """Load ``syncnet_v2.model`` (a plain state dict) into :class:`SyncNet`, in eval mode.

    Raises
    ------
    MissingAssetError: ``path`` is None or missing, or its keys/shapes are not SyncNet v2's.
    """
    if path is None or not Path(path).is_file():
        raise MissingAssetError(f"SyncNet weights not found at {path}: {SYNCNET_HELP}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = SyncNet()
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise MissingAssetError(f"{path} is not a syncnet_v2 state dict ({exc}); {SYNCNET_HELP}") from exc
    return model.to(device).eval()


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + hz / 700.0)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mfcc(audio: np.ndarray, sample_rate: int = 16000) -> np.ndarray:
    """13 MFCCs at 100 Hz, the ``python_speech_features.mfcc`` defaults SyncNet was trained on.

    25 ms rectangular frames every 10 ms (the last one zero-padded), pre-emphasis 0.97, 512-point
    power spectrum, 26 triangular mel filters, log, orthonormal DCT-II, sinusoidal lifter 22, and the
    first coefficient replaced by the log frame energy. Returns (n_frames, 13) float64.
    """
    audio = np.asarray(audio, dtype=np.float64)
    signal = np.append(audio[0], audio[1:] - 0.97 * audio[:-1])
    frame_len, step, nfft, nfilt = round(0.025 * sample_rate), round(0.01 * sample_rate), 512, 26
    n_frames = 1 + max(0, int(np.ceil((len(signal) - frame_len) / step)))
    padded = np.zeros((n_frames - 1) * step + frame_len)
    padded[: len(signal)] = signal
    index = np.arange(frame_len)[None] + step * np.arange(n_frames)[:, None]  # (F, frame_len)
    power = np.abs(np.fft.rfft(padded[index], nfft)) ** 2 / nfft  # (F, 257)
    eps = np.finfo(np.float64).eps
    energy = np.maximum(power.sum(axis=1), eps)
    mel_points = np.linspace(_hz_to_mel(np.array(0.0)), _hz_to_mel(np.array(sample_rate / 2)), nfilt + 2)
    bins = np.floor((nfft + 1) * _mel_to_hz(mel_points) / sample_rate).astype(int)
    fbank = np.zeros((nfilt, nfft // 2 + 1))
    for j in range(nfilt):
        lo, mid, hi = bins[j], bins[j + 1], bins[j + 2]
        fbank[j, lo:mid] = (np.arange(lo, mid) - lo) / max(mid - lo, 1)
        fbank[j, mid:hi] = (hi - np.arange(mid, hi)) / max(hi - mid, 1)
    feat = np.log(np.maximum(power @ fbank.T, eps))
    ceps = dct(feat, type=2, axis=1, norm="ortho")[:, :13]
    ceps *= 1.0 + 11.0 * np.sin(np.pi * np.arange(13) / 22.0)  # lifter L=22: 1 + (L/2) sin(pi n / L)
    ceps[:, 0] = np.log(energy)
    return ceps


@dataclass(frozen=True)
class SyncScores:
    """LSE-D (min mean distance), LSE-C (confidence) and the AV offset in frames."""

    lse_d: float
    lse_c: float
    offset: int


def sync_scores(video_emb: torch.Tensor, audio_emb: torch.Tensor, vshift: int = 15) -> SyncScores:
    """Scores from per-window embeddings (N,D) of video and audio, searching offsets +-``vshift``.

    A positive offset means the audio leads the video by that many frames.
    """
    n = len(video_emb)
    padded = torch.nn.functional.pad(audio_emb, (0, 0, vshift, vshift))  # (N + 2 vshift, D)
    window = 2 * vshift + 1
    dists = torch.stack(
        [
            torch.nn.functional.pairwise_distance(
                video_emb[i : i + 1].expand(window, -1), padded[i : i + window]
            )
            for i in range(n)
        ]
    )  # (N, window)
    mean = dists.mean(dim=0)
    min_val, min_idx = mean.min(dim=0)
    return SyncScores(
        lse_d=float(min_val), lse_c=float(mean.median() - min_val), offset=int(vshift - int(min_idx))
    )


@torch.no_grad()
def evaluate_sync(
    model: SyncNet,
    frames: np.ndarray,
    audio: np.ndarray,
    sample_rate: int = 16000,
    vshift: int = 15,
    batch: int = 20,
) -> SyncScores:
    """LSE-D / LSE-C of a 25 fps face video (T,H,W,3) RGB uint8 against its 16 kHz audio (S,)."""
    device = next(model.parameters()).device
    ceps = torch.from_numpy(mfcc(audio, sample_rate).T.astype(np.float32))  # (13, F100)
    n = min(len(frames), ceps.shape[1] // MFCC_PER_FRAME) - SYNC_FRAMES
    if n <= 2 * vshift:
        raise ValueError(f"too short for SyncNet with vshift {vshift}: {len(frames)} frames")
    video = torch.from_numpy(frames).float().permute(0, 3, 1, 2)  # (T,3,H,W)
    video = torch.nn.functional.interpolate(video, size=(CROP, CROP), mode="bilinear", antialias=True)
    video = video.flip(1).permute(1, 0, 2, 3)  # RGB -> BGR; (3,T,224,224)
    v_emb, a_emb = [], []
    for start in range(0, n, batch):
        idx = range(start, min(start + batch, n))
        clips = torch.stack([video[:, i : i + SYNC_FRAMES] for i in idx]).to(device)  # (b,3,5,224,224)
        mf = torch.stack([ceps[None, :, i * MFCC_PER_FRAME : i * MFCC_PER_FRAME + 20] for i in idx])
        v_emb.append(model.forward_lip(clips).cpu())
        a_emb.append(model.forward_aud(mf.to(device)).cpu())  # (b,1,13,20) -> (b,1024)
    return sync_scores(torch.cat(v_emb), torch.cat(a_emb), vshift)
