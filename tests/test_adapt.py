"""`gsmoothface adapt` on real video: it learns the person, resumes after SIGKILL to the same model,
is a cache hit the second time, refuses no face or two people without writing anything, and
`generate --person` names the known people when asked for an unknown one."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from tests.inference_fixture import write_inference_setup

ROOT = Path(__file__).resolve().parents[1]
REAL = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "real"
HILL = REAL / "video08_hill_hdtf_mpeg4_8s.mp4"
AOC = REAL / "video02_ocasio-cortez_hdtf_25fps.mp4"
needs_real = pytest.mark.skipif(
    not HILL.is_file() or not AOC.is_file(), reason=f"no real test videos in {REAL}"
)


def cut(source: Path, out: Path, seconds: float, start: float = 0.0) -> Path:
    """The first ``seconds`` of ``source`` from ``start`` (H.264 + AAC), via ffmpeg."""
    subprocess.run(
        [
            *("ffmpeg", "-v", "error", "-y", "-ss", str(start), "-i", str(source), "-t", str(seconds)),
            *("-c:v", "libx264", "-crf", "16", "-c:a", "aac", str(out)),
        ],
        check=True,
    )
    return out


def run_adapt(args: list[str], params: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "stages", "adapt", *args, "--params", str(params)],
        cwd=ROOT,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Tiny base models, a 2.4 s real clip of one person and params whose adapt run is 24 steps."""
    root = tmp_path_factory.mktemp("adapt")
    params_path = write_inference_setup(root, size=64, clip_side=128)
    params = yaml.safe_load(params_path.read_text())
    params["slice"] = {"min_seconds": 0.5, "size": 128}
    params["taft"] = {}
    params["adapt"] = {
        "base_model": str(root / "taft.pt"),
        "out_dir": str(root / "people"),
        "work_dir": str(root / "work"),
        "steps": 24,
        "epochs": 3,
        "batch_size": 4,
        "patch": 32,
        "lr": 0.003,
        "eval_frames": 6,
        "holdout": 0.2,
    }
    params_path.write_text(yaml.safe_dump(params))
    video = cut(HILL, root / "hill.mp4", 2.4) if HILL.is_file() else None
    return root, params_path, video


@needs_real
def test_adapt_learns_the_person_and_a_second_call_is_a_cache_hit(setup):
    root, params, video = setup
    result = run_adapt([str(video), "--name", "hill"], params)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    person = root / "people" / "hill"
    card = json.loads((person / "card.json").read_text())
    assert card["inputs"][0]["path"] == str(video) and len(card["inputs"][0]["sha256"]) == 16
    assert sorted(p.name for p in (person / "fit").iterdir()) == [f"{c}.npz" for c in card["clips"]]
    assert sorted(p.name for p in (person / "audio").iterdir()) == [f"{c}.wav" for c in card["clips"]]
    figures = card["figures"]
    # it learns: on the held-out tail the adapted face beats its own blended input (the untrained start)
    assert figures["psnr_face"] > figures["psnr_face_blended"] + 0.5, figures
    stamp = (person / "taft.pt").stat().st_mtime_ns
    again = run_adapt([str(video), "--name", "hill"], params)
    assert again.returncode == 0 and "up to date" in again.stdout, again.stdout + again.stderr
    assert (person / "taft.pt").stat().st_mtime_ns == stamp
    # generate with the person: its TAFT, and A2EP mapped to the person's own speaking style
    out = root / "hill_generated.mp4"
    generated = subprocess.run(
        [
            *(sys.executable, "-m", "stages", "generate", "--reference", str(video)),
            *("--audio", str(video), "--out", str(out), "--params", str(params)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert generated.returncode == 0 and out.is_file(), generated.stdout[-3000:] + generated.stderr[-3000:]
    assert "using person model 'hill'" in generated.stdout
    assert "hill's own speaking style" in generated.stdout, generated.stdout


@needs_real
def test_sigkill_then_the_same_command_gives_the_same_model(setup):
    root, params, video = setup
    first = run_adapt([str(video), "--name", "hill"], params)  # uninterrupted (or the cache hit)
    assert first.returncode == 0, first.stderr[-3000:]
    other = yaml.safe_load(params.read_text())
    other["adapt"]["out_dir"] = str(root / "people_killed")  # the same recipe, another destination
    killed_params = root / "params_killed.yaml"
    killed_params.write_text(yaml.safe_dump(other))
    cmd = [
        sys.executable,
        "-m",
        "stages",
        "adapt",
        str(video),
        "--name",
        "hill",
        "--params",
        str(killed_params),
    ]
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while (
        not list((root / "work").glob("*/run-*/resume.pt")) and proc.poll() is None and time.time() < deadline
    ):
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (root / "people_killed" / "hill").exists(), "adapt finished before it could be killed"
    resumed = run_adapt([str(video), "--name", "hill"], killed_params)
    assert resumed.returncode == 0 and "resuming TAFT from step" in resumed.stdout, resumed.stdout[-2000:]
    a = torch.load(root / "people" / "hill" / "taft.pt", weights_only=False)["generator_ema"]
    b = torch.load(root / "people_killed" / "hill" / "taft.pt", weights_only=False)["generator_ema"]
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0, msg=name)


def test_a_video_without_a_face_is_refused_and_nothing_is_written(setup, tmp_path):
    root, params, _ = setup
    blank = tmp_path / "bars.mp4"
    subprocess.run(
        [
            *("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=2"),
            *("-f", "lavfi", "-i", "sine=frequency=300:duration=2", "-shortest", str(blank)),
        ],
        check=True,
    )
    result = run_adapt([str(blank), "--name", "nobody"], params)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "bars.mp4" in lines[0], result.stderr
    assert "face" in lines[0]
    assert not (root / "people" / "nobody").exists()


@needs_real
def test_two_different_people_are_refused_and_nothing_is_written(setup, tmp_path):
    root, params, video = setup
    other = cut(AOC, tmp_path / "aoc.mp4", 2.0)
    result = run_adapt([str(video), str(other), "--name", "mixed"], params)
    assert result.returncode == 1, result.stdout[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "two different people" in lines[0], result.stderr
    assert not (root / "people" / "mixed").exists()


def test_generate_with_an_unknown_person_lists_the_known_ones(setup, tmp_path):
    from typer.testing import CliRunner

    from stages.generate import app

    root, params, _ = setup
    known = root / "people" / "alice"
    known.mkdir(parents=True, exist_ok=True)
    shutil.copy2(root / "taft.pt", known / "taft.pt")
    (known / "card.json").write_text(json.dumps({"format": "gsmoothface-person-1", "name": "alice"}))
    wav = tmp_path / "speech.wav"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=200:duration=1", str(wav)], check=True
    )
    clip = next((root / "clips").iterdir())
    args = [
        "--audio",
        str(wav),
        "--reference",
        str(clip),
        "--out",
        str(tmp_path / "o.mp4"),
        "--person",
        "bob",
    ]
    result = CliRunner().invoke(app, [*args, "--params", str(params)])
    assert result.exit_code == 1
    assert "no person model 'bob'" in result.output and "alice" in result.output, result.output
    assert not (tmp_path / "o.mp4").exists()


def test_the_budget_plan_is_fitted_once_and_kept_for_resumes(tmp_path):
    from gsmoothface.errors import InputError
    from gsmoothface.people.adapt import RESERVE_S, plan_steps
    from gsmoothface.people.config import AdaptConfig

    cfg = AdaptConfig(minutes=10, epochs=4)
    calls = []

    def costs() -> tuple[float, float]:
        calls.append(1)
        return 0.5, 10.0  # s per step, s per held-out scoring

    steps = plan_steps(tmp_path / "plan.json", cfg, 600.0, costs)
    assert steps == int((600 - RESERVE_S - 4 * 10) / 0.5) // 4 * 4 and steps % 4 == 0
    # a resumed run reads the plan and times nothing, even on a slower machine
    assert plan_steps(tmp_path / "plan.json", cfg, 60.0, lambda: (9.0, 9.0)) == steps and len(calls) == 1
    with pytest.raises(InputError, match="budget"):
        plan_steps(tmp_path / "other.json", cfg, 40.0, costs)
    assert not (tmp_path / "other.json").exists()
