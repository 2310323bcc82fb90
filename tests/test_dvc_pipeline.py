"""DVC at scale on a tiny corpus: what re-runs, the run cache, --keep-going, local and SSH remotes.

Every test works in its own copy of one committed tiny project (``tests/dvc_fixture.py``), built
once by running the real stages; nothing runs in the project's own working tree.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.dvc_fixture import SSHD, build_tiny_project, commit, ran_stages, running_sshd, set_params, sh

PER_CLIP = ("slice", "fit_3dmm", "audio_features", "blend")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return build_tiny_project(tmp_path_factory.mktemp("dvc") / "repo")


def copy_of(project: Path, dst: Path) -> Path:
    shutil.copytree(project, dst, symlinks=True)
    return dst


def locked(repo: Path) -> dict[str, dict]:
    """dvc.lock's stages (name -> entry)."""
    return yaml.safe_load((repo / "dvc.lock").read_text())["stages"]


def out_md5(repo: Path, stage: str, path: str) -> str:
    return next(o["md5"] for o in locked(repo)[stage]["outs"] if o["path"] == path)


def changed_in_status(repo: Path) -> set[str]:
    """Stages ``dvc status`` reports as changed (its unindented ``name:`` lines)."""
    out = sh(repo, "dvc", "status").stdout
    return {line[:-1] for line in out.splitlines() if line.endswith(":") and not line.startswith((" ", "\t"))}


def test_pipeline_is_per_clip_and_blended_frames_stay_local():
    from tests.dvc_fixture import ROOT

    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    for name in PER_CLIP:
        assert dvc["stages"][name]["foreach"] == "${clips}", name
    assert dvc["stages"]["blend"]["do"]["outs"] == [{"data/blended/${key}": {"push": False}}]
    for name in ("train_a2ep", "evaluate"):
        assert {"data/clips", "data/3dmm"} <= set(dvc["stages"][name]["deps"])
    assert "data/blended" in dvc["stages"]["train_taft"]["deps"]
    assert "models/a2ep.pt" in dvc["stages"]["evaluate"]["deps"]  # an a2ep change re-runs evaluate
    assert "a2ep" not in dvc["stages"]["evaluate"]["params"]


def test_reproduction_is_deterministic(project, tmp_path):
    """Forced re-runs give the same outputs, so the run cache and dvc.lock are trustworthy."""
    repo = copy_of(project, tmp_path / "repo")
    before = locked(repo)
    assert not (repo / "models/a2ep.ckpt").exists()  # a finished run leaves no resume state behind
    targets = ("slice@spk00_u01", "fit_3dmm@spk00_u01", "audio_features@spk00_u01", "train_a2ep")
    out = sh(repo, "dvc", "repro", "--force", "--single-item", *targets).stdout
    assert ran_stages(out) == set(targets)
    after = locked(repo)
    for stage in targets:  # the A2EP model and its DVCLive folder (metrics, loss curves) too
        assert after[stage]["outs"] == before[stage]["outs"], stage


def test_an_a2ep_param_touches_only_training_and_the_run_cache_restores(project, tmp_path):
    repo = copy_of(project, tmp_path / "repo")
    trained = out_md5(repo, "train_a2ep", "models/a2ep.pt")
    ran_before = set(locked(repo))
    set_params(repo, {"a2ep": {"lr": 0.001}})
    assert changed_in_status(repo) & ran_before == {"train_a2ep"}
    sh(repo, "git", "checkout", "params.yaml")

    out = sh(repo, "dvc", "exp", "run", "train_a2ep", "-S", "a2ep.lr=0.001", "-n", "lr1e-3").stdout
    assert ran_stages(out) == {"train_a2ep"}
    assert out_md5(repo, "train_a2ep", "models/a2ep.pt") != trained
    out = sh(repo, "dvc", "exp", "run", "train_a2ep", "-S", "a2ep.lr=0.002", "-n", "back").stdout
    assert ran_stages(out) == set() and "Stage 'train_a2ep' is cached - skipping run" in out
    assert out_md5(repo, "train_a2ep", "models/a2ep.pt") == trained

    show = sh(repo, "dvc", "exp", "show", "--md", "--drop", "^clips").stdout
    header = show.splitlines()[0]
    assert "lr1e-3" in show and "a2ep.lr" in header and "val.lve" in header

    sh(repo, "dvc", "plots", "show", "-o", "plots_html")
    html = (repo / "plots_html" / "index.html").read_text()
    assert "results/a2ep/plots/metrics/train/loss.tsv" in html and '"$schema"' in html


def test_a_new_clip_runs_alone_and_keep_going_names_the_corrupt_one(project, tmp_path):
    repo = copy_of(project, tmp_path / "repo")
    extra = repo / "data" / "raw" / "extra"
    extra.mkdir(parents=True)
    shutil.copy(repo / "data/raw/demo/spk00_u00.mp4", extra / "good.mp4")
    shutil.copy(repo / "data/raw/demo/spk00_u00.landmarks.npz", extra / "good.landmarks.npz")
    (extra / "bad.mp4").write_bytes((repo / "data/raw/demo/spk00_u01.mp4").read_bytes()[:3000])  # truncated
    manifest = repo / "data/manifests/demo.yaml"
    data = yaml.safe_load(manifest.read_text())
    for name in ("good", "bad"):
        video = f"data/raw/extra/{name}.mp4"
        landmarks = "data/raw/extra/good.landmarks.npz" if name == "good" else video
        data["clips"][name] = dict(data["clips"]["spk00_u00"], video=video, landmarks=landmarks)
    manifest.write_text(yaml.safe_dump(data, sort_keys=False))
    commit(repo, "two more videos")

    old = set(locked(repo))
    changed = changed_in_status(repo)
    assert {f"{s}@{n}" for s in PER_CLIP for n in ("good", "bad")} <= changed
    assert changed & old == set()  # no stage of an existing clip

    result = sh(repo, "dvc", "repro", "--keep-going", "train_a2ep", check=False)
    assert result.returncode != 0
    assert ran_stages(result.stdout) == {"slice@good", "slice@bad", "fit_3dmm@good", "audio_features@good"}
    assert "failed to reproduce 'slice@bad'" in result.stdout and "bad.mp4" in result.stdout
    assert (repo / "data/3dmm/good.npz").is_file() and (repo / "data/audio/good.npy").is_file()
    assert not (repo / "data/clips/bad").exists() and "train_a2ep" not in ran_stages(result.stdout)

    del data["clips"]["bad"]  # dropped from the manifest: the folders are complete again
    manifest.write_text(yaml.safe_dump(data, sort_keys=False))
    assert ran_stages(sh(repo, "dvc", "repro", "train_a2ep").stdout) == {"train_a2ep"}


def _add_remote(repo: Path, name: str, url: str, keyfile: Path | None) -> None:
    sh(repo, "dvc", "remote", "add", "--local", name, url)
    if keyfile is not None:
        sh(repo, "dvc", "remote", "modify", "--local", name, "keyfile", str(keyfile))


def _share_and_clone(
    src: Path, tmp_path: Path, name: str, url: str, keyfile: Path | None
) -> tuple[Path, str]:
    """Push ``src`` to ``url`` (with the run cache), git-clone it, pull there: (clone, pull output)."""
    _add_remote(src, name, url, keyfile)
    sh(src, "dvc", "push", "-r", name, "--run-cache")
    clone = tmp_path / f"clone_{name}"
    sh(tmp_path, "git", "clone", "-q", str(src), str(clone))
    _add_remote(clone, name, url, keyfile)
    pulled = sh(clone, "dvc", "pull", "-r", name, "--run-cache", check=False)
    return clone, pulled.stdout


def _check_clone(clone: Path, pull_output: str) -> None:
    assert (clone / "data/3dmm/spk01_u01.npz").is_file() and (clone / "models/a2ep.pt").is_file()
    assert not (clone / "data/blended/spk00_u00").exists()  # push: false
    assert "data/blended/spk00_u00" in pull_output  # reported as missing, not an error elsewhere
    out = sh(clone, "dvc", "repro", "train_a2ep").stdout
    assert ran_stages(out) == set(), out


def test_local_folder_remote_shares_the_preprocessing(project, tmp_path):
    src = copy_of(project, tmp_path / "src")
    clone, pulled = _share_and_clone(src, tmp_path, "shelf", str(tmp_path / "store"), None)
    _check_clone(clone, pulled)


@pytest.mark.skipif(not SSHD.is_file(), reason="no /usr/sbin/sshd (Debian package openssh-server)")
def test_ssh_remote_on_a_real_server_shares_the_preprocessing(project, tmp_path):
    src = copy_of(project, tmp_path / "src")
    with running_sshd(tmp_path / "sshd") as (port, user, key):
        url = f"ssh://{user}@127.0.0.1:{port}{tmp_path / 'remote'}"
        clone, pulled = _share_and_clone(src, tmp_path, "hub", url, key)
        _check_clone(clone, pulled)
    assert any((tmp_path / "remote" / "files").rglob("*")) and (tmp_path / "remote" / "runs").is_dir()
