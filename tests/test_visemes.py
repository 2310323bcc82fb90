"""The phonetic synthetic world: espeak-ng's phonemes drive the rendered mouth through visemes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from gsmoothface.face_model import FaceModelConfig, load_face_model
from gsmoothface.face_model.model import COEFF_SLICES, N_COEFF
from gsmoothface.synth import SynthConfig
from gsmoothface.synth.expression import expression_coefficients
from gsmoothface.synth.face_render import FaceLayer, frame_landmarks
from gsmoothface.synth.mapping import FPS, SpeakingStyle
from gsmoothface.synth.speakers import sample_speaker
from gsmoothface.synth.speech import Voice, espeak_available
from gsmoothface.synth.utterance import speak_and_articulate
from gsmoothface.visemes import coarticulate, phone_visemes

pytestmark = pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed")

SIZE = 256
CFG = dataclasses.replace(SynthConfig(), size=SIZE, face_size_px=150.0)
STYLE = SpeakingStyle(scale=1.0, bias=-0.03, round_gain=0.8, stretch_gain=0.7, smile=0.0)
VOICE = Voice("en-us+m3", speed_wpm=150, pitch=50, word_gap=0, gain=0.8)


@pytest.fixture(scope="module")
def layer() -> FaceLayer:
    torch.set_num_threads(1)
    return FaceLayer(load_face_model(FaceModelConfig()), SIZE, backend="cpu")


def _render_mouth_holes(layer: FaceLayer, text: str) -> tuple[np.ndarray, list, np.ndarray]:
    """Speak ``text``, render every frame's face, and count the pixels of the mouth's opening.

    Returns the hole pixel count per frame (T,), the phones, and the frame centre times (T,).
    """
    rng = np.random.default_rng(0)
    mouth, _, phones = speak_and_articulate(rng, text, VOICE, STYLE, CFG, "espeak")
    n = len(mouth["jaw"])
    speaker = sample_speaker(np.random.default_rng(1), 0, CFG, layer.model)
    exp = expression_coefficients(rng, mouth, np.zeros(n), np.zeros(n), 0.0)
    exp[:, 6:] = 0.0  # no minor motion: only the visemes move the face
    coeff = np.zeros((n, N_COEFF), np.float32)
    coeff[:, COEFF_SLICES["id"]] = speaker.id_coeff
    coeff[:, COEFF_SLICES["exp"]] = exp
    coeff[:, COEFF_SLICES["tex"]] = speaker.tex_coeff
    coeff[:, COEFF_SLICES["gamma"]] = speaker.gamma
    coeff[:, COEFF_SLICES["trans"]] = speaker.trans
    coeff_t = torch.from_numpy(coeff)
    _, mask = layer.plain(coeff_t)  # (T, S, S): 0 where no face is drawn, e.g. inside an open mouth
    lm = frame_landmarks(layer.model, coeff_t, SIZE).numpy()  # (T, 68, 2) y down
    holes = np.zeros(n)
    for t in range(n):
        x0, x1 = int(lm[t, 48, 0]) + 2, int(lm[t, 54, 0]) - 1  # inside the mouth corners
        y0, y1 = int(lm[t, 50:53, 1].min()), int(np.ceil(lm[t, 56:59, 1].max()))  # outer lips
        holes[t] = (mask[t, y0 : y1 + 1, x0 : x1 + 1] < 0.5).sum()
    return holes, phones, (np.arange(n) + 0.5) / FPS


def _frames_in(phones: list, times: np.ndarray, symbols: str, lead: float) -> np.ndarray:
    """Frames whose gesture time (centre + lead) falls in the middle half of a phone in ``symbols``."""
    spans = [(p.start, p.end) for p in phones if p.ipa and p.ipa[0] in symbols]
    t = times + lead
    return np.array([any(a + 0.25 * (b - a) <= x <= b - 0.25 * (b - a) for a, b in spans) for x in t])


def test_bilabials_close_the_rendered_lips_and_ah_opens_them(layer: FaceLayer) -> None:
    lead = CFG.mouth_lead_frames / FPS
    holes, phones, times = _render_mouth_holes(layer, "pa ba ma")
    closed = _frames_in(phones, times, "pbm", lead)
    vowels = _frames_in(phones, times, "ɑa", lead)
    assert closed.sum() >= 2 and vowels.sum() >= 3
    assert holes[closed].max() == 0, f"lips open during p/b/m: {holes[closed]}"
    assert holes[vowels].min() > 20, f"mouth not open during the vowels: {holes[vowels]}"
    ah, ah_phones, ah_times = _render_mouth_holes(layer, "ah")
    assert ah[_frames_in(ah_phones, ah_times, "ɑa", lead)].min() > 20
    # closed in the surrounding silence, from 150 ms away from the speech
    speech = [p for p in ah_phones if p.ipa]
    far = (ah_times + lead < speech[0].start - 0.15) | (ah_times + lead > speech[-1].end + 0.15)
    assert far.sum() >= 4 and ah[far].max() == 0, ah


def test_rounding_spreading_and_coarticulation() -> None:
    def phone(ipa: str, start: float, end: float):
        from gsmoothface.espeak import Phone

        return Phone(ipa, start, end)

    times = np.arange(0.0, 1.2, 0.01)
    oo = coarticulate([phone("uː", 0.4, 0.6)], times, lead=0.0)
    ee = coarticulate([phone("iː", 0.4, 0.6)], times, lead=0.0)
    at = np.argmin(np.abs(times - 0.5))
    assert oo["round"][at] > 0.5 and oo["stretch"][at] < 0.1
    assert ee["stretch"][at] > 0.5 and ee["round"][at] < 0.1
    # anticipation reaches further before the phone than carry-over after it
    before = oo["round"][np.argmin(np.abs(times - 0.33))]
    after = oo["round"][np.argmin(np.abs(times - 0.67))]
    assert before > after > 0.01
    # the gesture leads the sound by ``lead``
    led = coarticulate([phone("uː", 0.4, 0.6)], times, lead=0.1)
    assert np.argmax(led["round"] > 0.5) < np.argmax(oo["round"] > 0.5)
    # f and v: lower lip to upper teeth (almost closed); a diphthong gives two visemes
    assert phone_visemes("f")[0].target[0] < 0.1 and len(phone_visemes("aɪ")) == 2
