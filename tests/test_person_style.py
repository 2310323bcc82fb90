"""A person's speaking style: A2EP's prediction mapped to the person's fitted expressions."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from gsmoothface.people.style import fit_style, person_style, styled


def test_fit_style_recovers_gain_and_offset_and_never_flips_motion():
    rng = np.random.default_rng(0)
    predicted = rng.standard_normal((500, 4)).astype(np.float32)
    fitted = np.empty_like(predicted)
    fitted[:, 0] = 3.0 * predicted[:, 0] + 0.5 + 0.01 * rng.standard_normal(500)  # a wider mouth, elsewhere
    fitted[:, 1] = -2.0 * predicted[:, 1] + 1.0  # moves against the prediction
    fitted[:, 2] = 0.7 + 0.1 * rng.standard_normal(500)  # unrelated: the person's own mean
    fitted[:, 3] = predicted[:, 3]
    predicted[:, 2] = 0.2  # a coefficient A2EP does not move
    style = fit_style(predicted, fitted)
    assert abs(style.gain[0] - 3.0) < 0.01 and abs(style.offset[0] - 0.5) < 0.01
    assert style.gain[1] == 0.0 and abs(style.offset[1] - fitted[:, 1].mean()) < 1e-5
    assert style.gain[2] == 0.0 and abs(style.offset[2] - fitted[:, 2].mean()) < 1e-5
    assert abs(style.gain[3] - 1.0) < 1e-5 and abs(style.offset[3]) < 1e-5
    err_before = np.abs(predicted - fitted).mean()
    assert np.abs(style(predicted) - fitted).mean() < 0.5 * err_before


def _person(folder, clips: dict[str, int], with_audio: bool = True):
    (folder / "fit").mkdir(parents=True)
    (folder / "audio").mkdir()
    rng = np.random.default_rng(1)
    for name, frames in clips.items():
        coeff = np.zeros((frames, 257), np.float32)
        coeff[:, 80] = 2.0 + rng.standard_normal(frames)  # the fitted jaw, wide and offset
        valid = np.ones(frames, bool)
        valid[:3] = False
        np.savez(folder / "fit" / f"{name}.npz", coeff=coeff, valid=valid)
        if with_audio:
            speech = 0.1 * rng.standard_normal(frames * 640).astype(np.float32)
            sf.write(folder / "audio" / f"{name}.wav", speech, 16000)
    return folder


def test_person_style_is_fitted_from_the_kept_audio_and_fits(tmp_path):
    folder = _person(tmp_path / "p", {"a": 40, "b": 30})
    seen = []

    def predict(audio, n_frames, speaker):
        seen.append((len(audio), n_frames, speaker))
        with np.load(folder / "fit" / ("a.npz" if n_frames == 40 else "b.npz")) as fit:
            jaw = fit["coeff"][:, 80]
        exp = np.zeros((n_frames, 64), np.float32)
        exp[:, 0] = (jaw - 2.0) / 4.0  # the mean style: right timing, a quarter of the motion, no offset
        return exp

    style = person_style(predict, folder, 16000)
    assert seen == [(40 * 640, 40, None), (30 * 640, 30, None)]  # mean style, each clip's frames
    assert abs(style.gain[0] - 4.0) < 1e-4 and abs(style.offset[0] - 2.0) < 1e-4
    exp = styled(predict, style)(np.zeros(40 * 640, np.float32), 40, None)
    with np.load(folder / "fit" / "a.npz") as fit:
        assert np.allclose(exp[:, 0], fit["coeff"][:, 80], atol=1e-4)


def test_no_style_without_audio_or_with_too_few_frames(tmp_path):
    def predict(audio, n_frames, speaker):
        return np.zeros((n_frames, 64), np.float32)

    assert person_style(predict, _person(tmp_path / "old", {"a": 40}, with_audio=False), 16000) is None
    assert person_style(predict, _person(tmp_path / "short", {"a": 20}), 16000) is None
    silent = _person(tmp_path / "silent", {"a": 40})
    sf.write(silent / "audio" / "a.wav", np.zeros(40 * 640, np.float32), 16000)
    assert person_style(predict, silent, 16000) is None
