"""Long-audio prediction: windows with cross-fade, exact frame count, bounded memory, no seams."""

import gc
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from gsmoothface.a2ep.config import A2EPConfig
from gsmoothface.a2ep.model import A2EP, tiny_encoder_config
from gsmoothface.a2ep.predict import (
    crossfade_weights,
    hold_pauses,
    predict_audio,
    predict_expressions,
    window_starts,
)
from gsmoothface.audio import AudioConfig, open_frontend
from gsmoothface.errors import InputError

# small batched ops are latency-bound: one torch thread, as the stages run them
pytestmark = pytest.mark.usefixtures("one_torch_thread")


CFG = A2EPConfig(
    d_model=32,
    ffn_dim=64,
    encoder_hidden=32,
    encoder_ffn=64,
    encoder_layers=1,
    predict_window=50,
    predict_overlap=10,
)
INFO = {"fps": 25, "sample_rate": 16000, "feature_dim": 40, "speakers": ["a", "b"]}


@pytest.fixture(scope="module")
def model() -> A2EP:
    torch.manual_seed(0)
    net = A2EP(CFG, tiny_encoder_config(40, CFG), 2)
    nn.init.normal_(net.vertice_map_r.weight, std=0.05)
    return net.eval()


def speech_like(seconds: float, seed: int = 0) -> np.ndarray:
    """Tones whose loudness and pitch wander every 0.12 s, like syllables."""
    rng = np.random.default_rng(seed)
    n = round(seconds * 16000)
    knots = np.arange(0, n + 1920, 1920)
    env = np.interp(np.arange(n), knots, rng.uniform(0, 1, knots.size))
    pitch = np.interp(np.arange(n), knots, rng.uniform(300, 1500, knots.size))
    phase = 2 * np.pi * np.cumsum(pitch) / 16000
    return (0.3 * env * np.sin(phase) + 0.01 * rng.standard_normal(n)).astype(np.float32)


def test_windows_cover_and_weights_sum_to_one():
    assert window_starts(40, 50, 10) == [0]
    starts = window_starts(237, 50, 10)
    assert starts[:3] == [0, 40, 80] and starts[-1] == 187
    w_prev = crossfade_weights(50, 0, 10)
    w_next = crossfade_weights(50, 10, 10)
    assert np.allclose(w_prev[40:] + w_next[:10], 1.0)
    assert (w_prev > 0).all() and w_next[0] < 0.1


def test_frame_count_and_speaker_errors(model):
    frontend = open_frontend(AudioConfig(frontend="logmel", n_mels=40))
    for seconds in (0.3, 1.234, 2.0, 7.77):
        exp = predict_audio(model, INFO, frontend, speech_like(seconds), "a")
        assert exp.shape == (round(seconds * 25), 64) and exp.dtype == np.float32
    with pytest.raises(InputError, match="training speaker"):
        predict_audio(model, INFO, frontend, speech_like(1.0), "nobody")
    with pytest.raises(InputError, match="40-d"):
        predict_audio(
            model, INFO, open_frontend(AudioConfig(frontend="logmel", n_mels=20)), speech_like(1.0), "a"
        )


def test_hold_pauses_is_still_inside_and_fades_at_the_edges():
    rng = np.random.default_rng(0)
    exp = rng.standard_normal((60, 5)).astype(np.float32)
    pause = np.zeros(60, bool)
    pause[:10] = pause[30:45] = True
    rest = rng.standard_normal(5).astype(np.float32)
    out = hold_pauses(exp, pause, 3, rest)
    assert np.array_equal(out[~pause], exp[~pause])  # speech is untouched
    assert np.allclose(out[:7], rest)  # held from the very first frame
    assert np.allclose(out[33:42], rest)  # still inside, after the fade
    assert np.allclose(out[30], 0.25 * rest + 0.75 * exp[30])  # fading in from the speech before
    assert np.allclose(out[44], 0.25 * rest + 0.75 * exp[44])
    assert np.array_equal(hold_pauses(exp, np.zeros(60, bool), 3, rest), exp)
    assert np.allclose(hold_pauses(exp, np.ones(60, bool), 3, rest), rest)  # all silence: all rest


def test_silence_in_the_audio_holds_the_prediction_still(model):
    """The decoder drifts in silence; the pause hold of ``predict_audio`` keeps the face still
    there, and leaves the frames far from a pause as the decoder predicted them."""
    import dataclasses

    frontend = open_frontend(AudioConfig(frontend="logmel", n_mels=40))
    quiet = np.zeros(8000, np.float32)  # 0.5 s
    audio = np.concatenate([quiet, speech_like(2.0, 1), quiet, speech_like(2.0, 2)])
    held = predict_audio(model, INFO, frontend, audio, "a")
    model.cfg = dataclasses.replace(CFG, pause_hold=0)
    try:
        free = predict_audio(model, INFO, frontend, audio, "a")
    finally:
        model.cfg = CFG
    lead, gap = slice(0, 8), slice(67, 71)  # 0.5 s of silence each, less the feature windows and fades
    assert np.abs(np.diff(free[lead], axis=0)).max() > 1e-3  # the decoder alone moves in silence
    assert np.abs(np.diff(held[lead], axis=0)).max() < 1e-6
    assert np.abs(np.diff(held[gap], axis=0)).max() < 1e-6
    assert np.allclose(held[lead][0], held[gap][0])  # every pause rests on the same face
    assert np.array_equal(held[20:55], free[20:55])


def _peak_rss_growth(fn) -> tuple[float, object]:
    """Peak resident memory above the current level while ``fn`` runs, MiB (Linux)."""
    status = Path("/proc/self/status")
    if not status.is_file():
        pytest.skip("needs Linux /proc to measure peak memory")

    def field(name: str) -> float:
        line = next(x for x in status.read_text().splitlines() if x.startswith(name))
        return float(line.split()[1]) / 1024

    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    before = field("VmRSS")
    result = fn()
    return field("VmHWM") - before, result


def test_ten_minutes_bounded_memory_and_no_seams(model):
    frontend = open_frontend(AudioConfig(frontend="logmel", n_mels=40))
    short = speech_like(60.0, seed=1)
    long = speech_like(600.0, seed=1)
    growth_short, _ = _peak_rss_growth(lambda: predict_audio(model, INFO, frontend, short, "b"))
    growth_long, exp = _peak_rss_growth(lambda: predict_audio(model, INFO, frontend, long, "b"))
    assert exp.shape == (15000, 64) and np.isfinite(exp).all()
    # everything that grows with the audio is a few small per-frame arrays: < 60 MiB for 9 more minutes
    assert growth_long - growth_short < 60, (growth_short, growth_long)

    # frame-to-frame change at window joins is no larger than elsewhere
    step = np.linalg.norm(np.diff(exp, axis=0), axis=1)  # (T - 1,) change from frame t to t + 1
    joins = np.zeros(step.shape[0], dtype=bool)
    for start in window_starts(exp.shape[0], CFG.predict_window, CFG.predict_overlap)[1:]:
        joins[start - 1 : start + CFG.predict_overlap] = True  # entering, across and leaving the overlap
    assert step[joins].mean() <= 1.05 * step[~joins].mean()
    assert np.percentile(step[joins], 99) <= 1.1 * np.percentile(step[~joins], 99)
    assert step[joins].max() <= step[~joins].max()


def test_hard_joins_would_show(model):
    """Without overlap the same check sees the restart of the autoregression at every join."""
    frontend = open_frontend(AudioConfig(frontend="logmel", n_mels=40))
    feats = frontend(speech_like(60.0, seed=2))
    from gsmoothface.audio import to_frame_rate

    feats = to_frame_rate(feats, 1500)
    code = np.array([0.0, 1.0], np.float32)
    hard = predict_expressions(model, feats, code, 50, 0, 16)
    soft = predict_expressions(model, feats, code, 50, 10, 16)

    def join_ratio(exp, starts):
        step = np.linalg.norm(np.diff(exp, axis=0), axis=1)
        at = np.array(starts[1:]) - 1
        return step[at].mean() / np.delete(step, at).mean()

    assert join_ratio(hard, window_starts(1500, 50, 0)) > join_ratio(soft, window_starts(1500, 50, 10))


def test_model_files_of_older_or_other_formats_are_refused(tmp_path):
    from gsmoothface.a2ep import checkpoint
    from gsmoothface.errors import MissingAssetError

    for found, message in (("gsmoothface-a2ep/1", "older format.*retrain"), ("taft/1", "not an A2EP model")):
        path = tmp_path / f"{found.replace('/', '_')}.pt"
        torch.save({"format": found}, path)
        with pytest.raises(MissingAssetError, match=message):
            checkpoint.load_model(path)
    with pytest.raises(MissingAssetError, match="train-a2ep"):
        checkpoint.load_model(tmp_path / "absent.pt")
