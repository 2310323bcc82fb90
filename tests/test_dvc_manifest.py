"""The clip manifest behind dvc.yaml's per-clip stages: planning, naming and `slice --clip`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from gsmoothface.config import load_section, read_params
from gsmoothface.errors import InputError
from gsmoothface.slicing import SliceConfig
from gsmoothface.slicing.manifest import (
    format_crop,
    format_span,
    parse_crop,
    parse_span,
    plan_clips,
    read_clip_manifest,
    write_clip_manifest,
)
from gsmoothface.synth.config import SynthConfig
from gsmoothface.synth.manifest import split_of
from stages.cli import app
from tests.test_slice import SR, check_clip, face68, make_video, tone

ROOT = Path(__file__).resolve().parents[1]


def test_committed_demo_manifest_matches_synth_naming():
    """The manifest dvc.yaml loads names exactly the clips the default synth corpus yields."""
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    manifest_path = ROOT / dvc["vars"][0]
    clips = read_clip_manifest(manifest_path)
    cfg = load_section(SynthConfig, "synth", read_params(ROOT / "params.yaml"))
    expected = {
        f"spk{s:02d}_u{u:02d}": (s, split_of(s, u, cfg))
        for s in range(cfg.n_speakers)
        for u in range(cfg.utterances_per_speaker)
    }
    assert list(clips) == sorted(expected)
    for name, entry in clips.items():
        speaker, split = expected[name]
        assert entry == {
            "video": f"data/raw/demo/{name}.mp4",
            "landmarks": f"data/raw/demo/{name}.landmarks.npz",
            "span": "0-end",
            "crop": "auto",
            "speaker": f"spk{speaker:02d}",
            "speaker_index": speaker,
            "split": split,
        }
    # every split the evaluation and training need is present
    assert {e["split"] for e in clips.values()} == {"train", "val", "test"}


def test_span_and_crop_round_trip_and_reject_bad_text():
    assert parse_span(format_span(0.0, None)) == (0.0, None)
    assert parse_span(format_span(12.48, 24.96)) == (12.48, 24.96)
    assert parse_crop(format_crop((5, -6, 70))) == (5, -6, 70)
    assert parse_crop("auto") is None
    for bad in ("3", "4-2", "a-end"):
        with pytest.raises(InputError):
            parse_span(bad)
    with pytest.raises(InputError):
        parse_crop("1,2")


def test_plan_cuts_long_videos_at_quiet_points_and_reads_hdtf_annotations(tmp_path):
    src = tmp_path / "raw"
    src.mkdir()
    audio = tone(3.0)
    audio[round(1.2 * SR) : round(1.4 * SR)] = 0.0  # a pause between two phrases
    make_video(src / "talk.mp4", 75, 160, 120, audio=audio)
    make_video(src / "RD_Radio1.mp4", 60, 160, 120, audio=tone(2.4))
    (src / "RD_annotion_time.txt").write_text("Radio1.mp4 00:00-00:01 00:01-00:02.4\n")
    (src / "RD_crop_wh.txt").write_text("Radio1_1.mp4 100 80 60 80\n")  # at 240 px high
    (src / "RD_resolution.txt").write_text("Radio1.mp4 240\n")
    (src / "broken.mp4").write_bytes(b"not a video")
    (src / "manifest.csv").write_text("video,speaker,speaker_index,split\ntalk.mp4,spk7,3,val\n")
    cfg = SliceConfig(input_dir=src, max_seconds=2.0, min_seconds=0.5, quiet_search_s=1.0, quiet_window_s=0.1)
    lines: list[str] = []
    entries = {e.clip: e for e in plan_clips(src, cfg, log=lines.append)}
    assert sorted(entries) == ["RD_Radio1_000", "RD_Radio1_001", "talk_000", "talk_001"]
    assert len(lines) == 1 and "broken.mp4" in lines[0]
    first, second = entries["talk_000"], entries["talk_001"]
    assert first.start_s == 0.0 and 1.2 < first.end_s < 1.4 and second.start_s == first.end_s
    assert second.end_s == pytest.approx(3.0) and (second.speaker, second.speaker_index, second.split) == (
        "spk7",
        3,
        "val",
    )
    radio = entries["RD_Radio1_001"]
    assert (radio.start_s, radio.end_s, radio.crop, radio.split) == (1.0, 2.4, (50, 30, 40), "train")
    assert entries["RD_Radio1_000"].crop is None
    assert radio.landmarks == radio.video == (src / "RD_Radio1.mp4").as_posix()  # no sidecar
    out = tmp_path / "m.yaml"
    write_clip_manifest(out, list(entries.values()), "raw")
    assert read_clip_manifest(out)["RD_Radio1_001"]["crop"] == "50,30,40"


def test_manifest_command_and_slice_clip_write_exactly_the_planned_clip(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    src = Path("data/raw/x")
    src.mkdir(parents=True)
    lm = np.stack([face68(80, 60, 20)] * 40)
    make_video(src / "spk0_u0.mp4", 40, 160, 120, audio=tone(1.6), lm68=lm)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["slice"] |= {"size": 64, "crf": 28, "mux_audio": False}
    Path("params.yaml").write_text(yaml.safe_dump(params))
    runner = CliRunner()
    result = runner.invoke(app, ["manifest", "data/raw/x", "--out", "data/manifests/x.yaml"])
    assert result.exit_code == 0, result.output
    entry = read_clip_manifest(Path("data/manifests/x.yaml"))["spk0_u0"]
    assert entry == {
        "video": "data/raw/x/spk0_u0.mp4",
        "landmarks": "data/raw/x/spk0_u0.landmarks.npz",
        "span": "0-end",
        "crop": "auto",
        "speaker": "spk0_u0",
        "speaker_index": 0,
        "split": "train",
    }
    args = ["slice", "--clip", "c1", "--source", entry["video"], "--span", "0.4-1.6", "--crop", "auto"]
    args += ["--speaker", "bob", "--speaker-index", "2", "--split", "test", "--output-dir", "data/clips"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in Path("data/clips").iterdir()) == ["c1"]
    meta = check_clip(Path("data/clips/c1"), 64)
    assert (meta["frames"], meta["start_s"], meta["speaker"], meta["speaker_index"], meta["split"]) == (
        30,
        0.4,
        "bob",
        2,
        "test",
    )
    assert meta["crop_from"] == "sidecar" and json.loads(Path("data/clips/c1/meta.json").read_text())
    Path("data/raw/x/bad.mp4").write_bytes(b"\x00" * 100)
    result = runner.invoke(app, ["slice", "--clip", "c2", "--source", "data/raw/x/bad.mp4"])
    assert result.exit_code == 1 and "bad.mp4" in result.output
    assert not Path("data/clips/c2").exists()
