"""``gsmoothface generate`` end to end with tiny models: a demo clip, a real video, a photo, bad input.

Every bad input must give one ``error:`` line naming the user's file, exit status 1, nothing at
``--out`` and no temporary folder left in the cache.
"""

from __future__ import annotations

import json
from pathlib import Path

import ffmpeg
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from tests.inference_fixture import write_demo_clip, write_tiny_models

REAL = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "real"
CLIP_SIDE = 128  # px, the demo clip's frame
SIZE = 32  # MAFB/TAFT resolution, px
SPEAKER = "spkA"  # the tiny A2EP's one training speaker


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Path]:
    """A demo clip with its fit, tiny models, speech, and a params file that points at them."""
    from gsmoothface.media import load_audio, write_wav

    root = tmp_path_factory.mktemp("generate")
    clip = write_demo_clip(root, CLIP_SIDE)
    a2ep, taft = write_tiny_models(root, SIZE, (SPEAKER,))
    speech = load_audio(clip / "audio.wav", 16000)
    write_wav(root / "speech.wav", np.tile(speech, 2), 16000)  # longer than the clip: ping-pong
    params = {
        "base": {"device": "cpu"},
        "generate": {
            "a2ep_model": str(a2ep),
            "taft_model": str(taft),
            "clips_dir": str(root / "clips"),
            "fit_dir": str(root / "3dmm"),
            "cache_dir": str(root / "cache"),
            "chunk": 16,
        },
        "blend": {"size": SIZE},
        "render": {"backend": "cpu"},
        "audio": {"frontend": "logmel"},
        "face_model": {},
        "slice": {"size": 192, "min_seconds": 0.5, "max_seconds": 2.0},
        "fit_3dmm": {"landmark_steps": 30, "photo_steps": 0},
        "adapt": {"out_dir": str(root / "people")},
    }
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    return {"root": root, "clip": clip, "speech": root / "speech.wav", "params": root / "params.yaml"}


def run(world: dict[str, Path], reference: Path | str, out: Path, *extra: str, audio: Path | None = None):
    from stages.generate import app

    args = ["--audio", str(audio or world["speech"]), "--reference", str(reference), "--out", str(out)]
    return CliRunner().invoke(app, [*args, "--params", str(world["params"]), *extra])


def params_with(world: dict[str, Path], tmp_path: Path, **generate: str) -> Path:
    """A copy of the world's params file with ``generate`` keys replaced."""
    params = yaml.safe_load(world["params"].read_text())
    params["generate"].update(generate)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def n_frames(path: Path) -> int:
    stream = next(s for s in ffmpeg.probe(str(path))["streams"] if s["codec_type"] == "video")
    return int(stream["nb_frames"])


def test_demo_clip_by_name(world, tmp_path):
    out = tmp_path / "demo.mp4"
    result = run(world, world["clip"].name, out, "--speaker", SPEAKER)
    assert result.exit_code == 0, result.output
    from gsmoothface.media import probe

    info = probe(out)
    assert (info.width, info.height) == (CLIP_SIDE, CLIP_SIDE)
    assert info.has_audio
    speech = probe(world["speech"])
    assert info.duration_s == pytest.approx(speech.duration_s, abs=0.05)
    assert n_frames(out) == round(speech.duration_s * 25)


def _trimmed(source: Path, out: Path, seconds: float) -> Path:
    """The first ``seconds`` of ``source``, re-encoded (a short real reference keeps CI fast)."""
    ffmpeg.input(str(source), t=seconds).output(str(out), vcodec="libx264", acodec="aac").global_args(
        "-loglevel", "error", "-y"
    ).run()
    return out


def test_real_video_reference(world, tmp_path):
    video = REAL / "video02_ocasio-cortez_hdtf_25fps.mp4"
    if not video.is_file():
        pytest.skip(f"real test media not found at {REAL}")
    from gsmoothface.media import probe

    reference = _trimmed(video, tmp_path / "interview.mp4", 1.2)
    out = tmp_path / "real.mp4"
    result = run(world, reference, out)
    assert result.exit_code == 0, result.output
    info, source = probe(out), probe(video)
    assert (info.width, info.height) == (source.width, source.height)  # pasted back into full frames
    assert n_frames(out) == round(probe(world["speech"]).duration_s * 25)


def test_still_photo_reference(world, tmp_path):
    photo = REAL / "photo01_woman_frontal.jpg"
    if not photo.is_file():
        pytest.skip(f"real test media not found at {REAL}")
    from gsmoothface.generate.still import read_photo
    from gsmoothface.media import probe, read_frames

    out = tmp_path / "photo.mp4"
    result = run(world, photo, out)
    assert result.exit_code == 0, result.output
    info = probe(out)
    original = read_photo(photo).astype(np.int16)  # upright, at most MAX_SIDE px
    height, width = original.shape[:2]
    assert (info.width, info.height) == (width + width % 2, height + height % 2)  # yuv420p: even sides
    frames = read_frames(out).astype(np.int16)[:, :height, :width]
    assert len(frames) == round(probe(world["speech"]).duration_s * 25)
    corner = np.abs(frames[:, :100, :100] - original[:100, :100]).max()
    assert corner < 16  # the photo's own pixels away from the face (codec noise only)
    assert np.abs(frames - original).max() > 60  # the untrained TAFT's face was pasted in
    # the module's cache holds the other tests' references too: one of them is the photo, by its path
    cached = (world["root"] / "cache" / "references").glob("*/reference.json")
    assert str(photo) in {json.loads(path.read_text())["video"] for path in cached}


def _tone(seconds: float, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * 16000)) / 16000
    return (amplitude * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def _faceless_video(path: Path) -> Path:
    """1.5 s of a grey gradient with a tone: a readable video with no face in any frame."""
    from gsmoothface.media import VideoWriter, write_wav

    wav = path.with_suffix(".wav")
    write_wav(wav, _tone(1.5), 16000)
    frame = np.broadcast_to(np.linspace(60, 190, 160, dtype=np.uint8)[None, :, None], (160, 160, 3))
    with VideoWriter(path, 160, 160, audio_path=wav) as writer:
        writer.write(np.repeat(frame[None], 38, axis=0))
    wav.unlink()
    return path


def _bad_case(case: str, world: dict[str, Path], tmp: Path) -> tuple[list[str], Path, str]:
    """(extra command arguments, the output path, the name the error must mention) of ``case``."""
    from gsmoothface.media import write_wav

    out = tmp / "out.mp4"
    raw = next((world["root"] / "raw").glob("*.mp4"))
    reference: Path | str = world["clip"].name
    audio = world["speech"]
    extra: list[str] = []
    named = ""
    if case == "missing reference":
        reference = named = str(tmp / "nobody.mp4")
    elif case == "corrupt video":
        reference = tmp / "corrupt.mp4"
        reference.write_bytes(np.random.default_rng(0).bytes(50_000))
        named = str(reference)
    elif case == "truncated video":
        reference = tmp / "truncated.mp4"
        data = raw.read_bytes()
        reference.write_bytes(data[: len(data) // 3])
        named = str(reference)
    elif case == "no face":
        reference = _faceless_video(tmp / "faceless.mp4")
        named = str(reference)
    elif case == "audio-only reference":
        reference = tmp / "speech_only.wav"
        reference.write_bytes(world["speech"].read_bytes())
        named = str(reference)
    elif case == "silent audio":
        audio = tmp / "silent.wav"
        write_wav(audio, np.zeros(32000, np.float32), 16000)
        named = str(audio)
    elif case == "short audio":
        audio = tmp / "short.wav"
        write_wav(audio, _tone(0.1), 16000)
        named = str(audio)
    elif case == "unknown speaker":
        extra, named = ["--speaker", "nobody"], "nobody"
    elif case in ("missing A2EP model", "corrupt A2EP model", "truncated TAFT model"):
        model = tmp / ("taft.pt" if "TAFT" in case else "a2ep.pt")
        key = "taft_model" if "TAFT" in case else "a2ep_model"
        if case.startswith("corrupt"):
            model.write_bytes(np.random.default_rng(1).bytes(4096))
        elif case.startswith("truncated"):
            data = Path(yaml.safe_load(world["params"].read_text())["generate"][key]).read_bytes()
            model.write_bytes(data[: len(data) // 2])
        extra, named = ["--params", str(params_with(world, tmp, **{key: str(model)}))], str(model)
    elif case == "out folder missing":
        out = tmp / "no_such_folder" / "out.mp4"
        named = str(out.parent)
    elif case == "out folder is a file":
        (tmp / "a_file").write_text("not a folder")
        out = tmp / "a_file" / "out.mp4"
        named = str(out.parent)
    args = ["--audio", str(audio), "--reference", str(reference), "--out", str(out), *extra]
    return args, out, named


BAD_CASES = [
    "missing reference",
    "corrupt video",
    "truncated video",
    "no face",
    "audio-only reference",
    "silent audio",
    "short audio",
    "unknown speaker",
    "missing A2EP model",
    "corrupt A2EP model",
    "truncated TAFT model",
    "out folder missing",
    "out folder is a file",
]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_gives_one_line_and_leaves_nothing(world, tmp_path, case):
    from stages.generate import app

    args, out, named = _bad_case(case, world, tmp_path)
    if "--params" not in args:
        args += ["--params", str(world["params"])]
    before = sorted(p.name for p in tmp_path.iterdir())
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.output.strip().splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, result.output
    assert named in errors[0], errors[0]
    assert "/." not in errors[0], errors[0]  # no hidden temporary path of the cache
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing else written beside it
    cache = world["root"] / "cache"
    hidden = [p for p in cache.rglob(".*")] if cache.exists() else []
    assert not hidden, hidden
